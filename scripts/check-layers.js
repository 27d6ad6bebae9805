// Checks native/'s layering (no include from a lower layer to a higher one) and that native/addon/ holds no element loops: `node scripts/check-layers.js [root]`.
//
// Layers, from the folder a file lives in (doc/ops.md):
//   native/src/base < native/src/ukernels < native/src/pack < native/src/ops < native/src/plan < native/addon
// A file may include its own layer and the ones below it. native/reference/ may include only
// base/ and reference/ (the reference must not share code with what it checks); native/test/,
// native/bench/ and native/fuzz/ may include anything. <napi.h> belongs to native/addon/ only.
//
// Element loops: the binding only marshals, so every loop in native/addon/ must have a bound
// fixed at compile time. A `for` is allowed when it is a range-for over a braced list or a
// k-named constant array (`for (const View* v : {&a, &b})`, `for (const auto& f : kFlags)`) or
// its condition starts by comparing the loop variable with an integer literal or a k-named
// constant (`i < 3`, `d < kGeometryLength`, `d < 3 && d < dims`); any other `for`, and every
// `while` / `do`, is reported: a loop bounded by a length, count or size read from the
// arguments walks tensor data (or per-channel parameters), which belongs in native/src/ops/.
// (Loops hidden in library calls, std::copy and the like, are not seen: reviews catch those.)
// The files named in HANDLE_FILES are exempt: they walk the env's lists of weight handles and of
// handed-over ArrayBuffers (N-API objects whose lifetime only the binding can manage), never tensor data.
'use strict';
const fs = require('fs');
const path = require('path');

const ORDER = ['base', 'ukernels', 'pack', 'ops', 'plan', 'addon'];
const ANYTHING = new Set(['test', 'bench', 'fuzz']);

// Violations the tree still has, each with why it is not fixed yet. A listed violation that
// no longer occurs is itself reported, so the list only shrinks.
const KNOWN = new Map([
]);

// Files of native/addon/ whose loops walk N-API objects, not tensor data, with why.
const HANDLE_FILES = new Map([
  ['native/addon/handles.cc', 'the GC sweep over the env\'s weight handles (napi_ref per handle): binding-only lifetime management'],
  ['native/addon/handoff.cc', 'the env\'s donated and recycled ArrayBuffers (napi_ref per buffer): binding-only lifetime management'],
]);

// The layer of a file under root, or null for files outside the layered tree.
function layerOf(rel) {
  const parts = rel.split('/');
  if (parts[0] !== 'native') return null;
  if (parts[1] === 'src') return ORDER.includes(parts[2]) ? parts[2] : null;
  if (parts[1] === 'addon' || parts[1] === 'reference') return parts[1];
  return ANYTHING.has(parts[1]) ? 'anything' : null;
}

function walk(dir, out) {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (/\.(cc|h|inc)$/.test(entry.name)) out.push(full);
  }
  return out;
}

// Comments and string literals blanked (newlines kept, so line numbers stay right).
function stripCode(text) {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, (m) =>
    m.startsWith('"') && m.length >= 2 ? '""' : m.replace(/[^\n]/g, ' '));
}

function includeViolation(layer, target) {
  if (target === 'napi.h') return layer === 'addon' || layer === 'anything' ? null : '<napi.h> outside native/addon/';
  const top = target.split('/')[0];
  if (layer === 'anything') return null;
  if (layer === 'reference') return top === 'base' || top === 'reference' ? null : 'reference/ may include only base/';
  if (!ORDER.includes(top)) return top === 'reference' ? `${layer}/ includes the reference` : null;
  return ORDER.indexOf(top) > ORDER.indexOf(layer) ? `${layer}/ includes the higher layer ${top}/` : null;
}

// The loops of one native/addon/ file that the rule above does not allow.
function elementLoops(code) {
  const found = [];
  const lineOf = (index) => code.slice(0, index).split('\n').length;
  for (const m of code.matchAll(/\bfor\s*\(/g)) {
    // The header: up to the parenthesis that closes the one after `for`.
    let depth = 0;
    let end = m.index + m[0].length - 1;
    for (; end < code.length; end++) {
      if (code[end] === '(') depth++;
      else if (code[end] === ')' && --depth === 0) break;
    }
    const header = code.slice(m.index + m[0].length, end).replace(/\s+/g, ' ').trim();
    const rangeOverList = /^[^;]*[^:]:\s*(\{[^;]*\}|k[A-Z]\w*)$/.test(header);
    const clauses = header.split(';');
    const fixedBound = clauses.length === 3 && /^\s*\w+\s*<=?\s*(\d+|k[A-Z]\w*)\s*(&&.*)?$/.test(clauses[1]);
    if (!rangeOverList && !fixedBound) found.push({ line: lineOf(m.index), text: `for (${header})` });
  }
  for (const m of code.matchAll(/\b(while\s*\(|do\s*\{)/g)) {
    found.push({ line: lineOf(m.index), text: m[1].replace(/\s+/g, ' ') });
  }
  return found;
}

// Every violation under root, known ones marked; and the known ones that no longer occur.
function checkTree(root, known = KNOWN) {
  const violations = [];
  const seenKnown = new Set();
  for (const file of walk(path.join(root, 'native'), [])) {
    const rel = path.relative(root, file).split(path.sep).join('/');
    const layer = layerOf(rel);
    if (layer === null) continue;
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*#\s*include\s*(?:"([^"]+)"|<(napi\.h)>)/gm)) {
      const target = m[1] || m[2];
      const why = includeViolation(layer, target);
      if (why === null) continue;
      const key = `${rel} -> ${target}`;
      if (known.has(key)) seenKnown.add(key);
      else violations.push(`${key}: ${why}`);
    }
    if (layer === 'addon' && !HANDLE_FILES.has(rel)) {
      for (const loop of elementLoops(stripCode(text))) {
        violations.push(`${rel}:${loop.line}: ${loop.text}: a loop in the binding whose bound is not a compile-time constant (move it into native/src/ops/)`);
      }
    }
  }
  const stale = [...known.keys()].filter((key) => !seenKnown.has(key));
  return { violations, stale, known: seenKnown.size };
}

module.exports = { checkTree, elementLoops, includeViolation, layerOf, KNOWN, HANDLE_FILES };

if (require.main === module) {
  const root = path.resolve(process.argv[2] || path.join(__dirname, '..'));
  const { violations, stale, known } = checkTree(root);
  for (const v of violations) console.error(`check-layers: ${v}`);
  for (const s of stale) console.error(`check-layers: ${s}: listed as known in scripts/check-layers.js but fixed: remove it from KNOWN`);
  if (violations.length + stale.length > 0) {
    console.error(`check-layers: ${violations.length + stale.length} problem(s)`);
    process.exit(1);
  }
  console.log(`check-layers: layering and the binding's loops are clean (${known} known violations listed in KNOWN)`);
}
