// Prints a part of the merged source list (native/sources.json + native/sources/*.json) for binding.gyp: `node scripts/sources.js isa avx2`.
'use strict';
const fs = require('fs');
const path = require('path');

const nativeDir = path.join(__dirname, '..', 'native');

// Lists concatenate (root first, then families in file-name order); other values come from the root.
function merge(into, part) {
  for (const [key, value] of Object.entries(part)) {
    if (key === 'comment') continue;
    if (Array.isArray(value)) into[key] = (into[key] || []).concat(value);
    else if (value && typeof value === 'object') into[key] = merge(into[key] || {}, value);
    else if (!(key in into)) into[key] = value;
  }
  return into;
}

function mergedSources() {
  const list = merge({}, require(path.join(nativeDir, 'sources.json')));
  const familyDir = path.join(nativeDir, 'sources');
  for (const name of fs.readdirSync(familyDir).filter((f) => f.endsWith('.json')).sort()) {
    merge(list, require(path.join(familyDir, name)));
  }
  return list;
}

if (require.main === module) {
  let node = mergedSources();
  for (const key of process.argv.slice(2)) {
    if (node == null || !(key in node)) {
      process.stderr.write(`sources.js: no entry ${process.argv.slice(2).join('.')} in the merged source list\n`);
      process.exit(1);
    }
    node = node[key];
  }
  process.stdout.write(node.join(' '));
}

module.exports = { mergedSources };
