// Prints a part of native/sources.json for binding.gyp's <!@(...) expansions: `node scripts/sources.js isa avx2`.
'use strict';
const path = require('path');
const list = require(path.join(__dirname, '..', 'native', 'sources.json'));
let node = list;
for (const key of process.argv.slice(2)) {
  if (node == null || !(key in node)) {
    process.stderr.write(`sources.js: no entry ${process.argv.slice(2).join('.')} in native/sources.json\n`);
    process.exit(1);
  }
  node = node[key];
}
process.stdout.write(node.join(' '));
