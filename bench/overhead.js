// Per-call overhead from JS: the eager call of every op family on a tiny tensor against an empty N-API call (issue 11's "Measure").
// Usage: node bench/overhead.js [--min-time s] [--rounds n] [--quick] [--clock wall|cpu] [--eager-only] [--against DIR]
//
// --against DIR times the eager calls of this tree and of the qkernels package in DIR (another
// checkout, built) in one process, their rounds interleaved, and prints both with the ratio: on
// a shared machine both sides then see the same load. --clock cpu times process CPU time
// instead of wall time (the ops run on one thread here), which leaves out the time spent
// waiting for a core. --eager-only skips the traced columns.
//
// The tensors are tiny (a few dozen elements) so that what is timed is the cost around the
// kernel: argument checks, N-API crossings, output allocation and plan derivation. The
// baseline is `addon.getNumThreads()`, a binding call that does no work. The goal is
// eager <= 3 us per op and traced <= 0.3 us per op; each row prints met/not met. The traced
// column is the op inside a jit.trace plan (tracedPerOpMicros).
'use strict';

const { parseArgs, timeSync, median, fmt, printTable } = require('./lib/common');
const q = require('..');
const { addon } = require('../dist/native');

const { options } = parseArgs(process.argv.slice(2), {
  'min-time': 'number',
  rounds: 'number',
  quick: 'boolean',
  clock: 'string',
  'eager-only': 'boolean',
  against: 'string',
});
const minTime = options.quick ? 0.01 : options['min-time'] ?? 0.2;
const rounds = options.quick ? 1 : options.rounds ?? 5;
const clock = options.clock ?? 'wall';
const GOAL_US = 3;
const TRACED_GOAL_US = 0.3;

// The cases on package `q` (this tree's, or --against's).
function cases(q) {
  const { nnq, nn, qF } = q;
  // A deterministic tiny float tensor of `shape`, values in [-1, 1).
  const floats = (shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return q.tensor(Float32Array.from({ length: n }, (_, i) => ((i * 37) % 64) / 32 - 1), shape);
  };
  const quint8 = (shape) => q.quantizePerTensor(floats(shape), 1 / 64, 128, 'quint8');
  const x4 = quint8([1, 4, 4, 4]);
  const x2 = quint8([2, 8]);
  const f = new nnq.QFunctional();
  f.scale = 1 / 32;
  f.zeroPoint = 128;
  const linear = new nnq.Linear(8, 8);
  const conv = new nnq.Conv2d(4, 4, 3, { padding: 1 });
  const convT = new nnq.ConvTranspose2d(4, 4, 2, { stride: 2 });
  const hardswish = new nnq.Hardswish(1 / 32, 128);
  const softmax = new nnq.Softmax({ dim: 1, scale: 1 / 256, zeroPoint: 0 });
  const maxPool = new nn.MaxPool2d(2);
  const avgPool = new nn.AvgPool2d(2);
  const adaptive = new nn.AdaptiveAvgPool2d(1);
  const bn = new nnq.BatchNorm2d(4);
  const layerNorm = new nnq.LayerNorm([4], new Float32Array(4).fill(1), new Float32Array(4), 1 / 32, 128);
  const upsample = new nn.Upsample({ scaleFactor: 2, mode: 'nearest' });
  const embedding = new nnq.Embedding(16, 8);
  const bag = new nnq.EmbeddingBag(16, 8, { mode: 'sum' });
  const ids = new Int32Array([1, 3, 5, 7]);
  const offsets = new Int32Array([0, 2]);
  const quantize = new nnq.Quantize(1 / 64, 128, 'quint8');
  const dequantize = new nnq.DeQuantize();
  const fx = floats([1, 4, 4, 4]);
  // Each case: name, the op as a function of its inputs, the inputs (so jit.trace can record it).
  return [
    ['linear (nnq.Linear 8->8)', (x) => linear.forward(x), [x2]],
    ['conv2d 3x3 (nnq.Conv2d 4->4)', (x) => conv.forward(x), [x4]],
    ['convTranspose2d (4->4 k2 s2)', (x) => convT.forward(x), [x4]],
    ['add (QFunctional)', (x) => f.add(x, x), [x4]],
    ['mul (QFunctional)', (x) => f.mul(x, x), [x4]],
    ['cat (QFunctional)', (x) => f.cat([x, x], 1), [x4]],
    ['relu (qF.relu)', (x) => qF.relu(x), [x4]],
    ['hardswish (nnq.Hardswish)', (x) => hardswish.forward(x), [x4]],
    ['softmax (nnq.Softmax)', (x) => softmax.forward(x), [x4]],
    ['maxPool2d 2', (x) => maxPool.forward(x), [x4]],
    ['avgPool2d 2', (x) => avgPool.forward(x), [x4]],
    ['adaptiveAvgPool2d 1', (x) => adaptive.forward(x), [x4]],
    ['mean([2,3]) (QTensor.mean)', (x) => x.mean([2, 3]), [x4]],
    ['batchNorm2d (nnq.BatchNorm2d)', (x) => bn.forward(x), [x4]],
    ['layerNorm (nnq.LayerNorm)', (x) => layerNorm.forward(x), [x4]],
    ['upsample nearest x2', (x) => upsample.forward(x), [x4]],
    ['embedding (nnq.Embedding)', (i) => embedding.forward(i), [ids]],
    ['embeddingBag sum', (i, o) => bag.forward(i, o), [ids, offsets]],
    ['quantize (nnq.Quantize)', (x) => quantize.forward(x), [fx]],
    ['dequantize (nnq.DeQuantize)', (x) => dequantize.forward(x), [x4]],
    ['functional linear (qF.linear)', (x) => qF.linear(x, linear.weight(), linear.bias(), { scale: 1 / 32, zeroPoint: 128 }), [x2]],
  ];
}

function perCallMicros(fn) {
  const samples = [];
  for (let r = 0; r < rounds; r++) samples.push(timeSync(fn, minTime, { clock }) * 1e6);
  return median(samples);
}

/** --against: each op of both packages, rounds interleaved (this tree's, then the other's), medians and their ratio. */
function compare(dir) {
  const path = require('path');
  const root = path.resolve(dir);
  const other = require(root);
  const otherAddon = require(path.join(root, 'dist', 'native')).addon;
  const sides = [
    [['empty N-API call (baseline)', () => addon.getNumThreads(), []], ...cases(q)],
    [['empty N-API call (baseline)', () => otherAddon.getNumThreads(), []], ...cases(other)],
  ];
  const rows = [];
  for (let c = 0; c < sides[0].length; c++) {
    const [name, fn, inputs] = sides[0][c];
    const [, otherFn, otherInputs] = sides[1][c];
    const mine = [];
    const theirs = [];
    for (let r = 0; r < rounds; r++) {
      mine.push(timeSync(() => fn(...inputs), minTime, { clock }) * 1e6);
      theirs.push(timeSync(() => otherFn(...otherInputs), minTime, { clock }) * 1e6);
    }
    const [a, b] = [median(mine), median(theirs)];
    rows.push([name, fmt(b), fmt(a), `${(a / b).toFixed(2)}x`, a <= GOAL_US ? 'met' : 'not met']);
  }
  console.log(`\nEager per-call overhead (${clock} clock, rounds interleaved): ${root} against this tree (${path.resolve(__dirname, '..')})`);
  printTable(['op', `${path.basename(root)} us/call`, 'this tree us/call', 'this / other', `<= ${GOAL_US} us`], rows);
}

/**
 * The traced cost of one op: a plan of REPEAT copies of the op (each reading the input) against
 * a plan of one, so the plan call's own cost cancels out: (T(REPEAT) - T(1)) / (REPEAT - 1).
 */
const REPEAT = 32;
function tracedPerOpMicros(fn, inputs) {
  const many = (...xs) => {
    let y;
    for (let i = 0; i < REPEAT; i++) y = fn(...xs);
    return y;
  };
  const one = q.jit.trace(fn, inputs);
  const all = q.jit.trace(many, inputs);
  try {
    const t1 = perCallMicros(() => one.forward(...inputs));
    const tn = perCallMicros(() => all.forward(...inputs));
    return { perOp: (tn - t1) / (REPEAT - 1), plan: t1 };
  } finally {
    one.dispose();
    all.dispose();
  }
}

function main() {
  if (options.against !== undefined) {
    compare(options.against);
    return;
  }
  const baseline = perCallMicros(() => addon.getNumThreads());
  const rows = [['empty N-API call (baseline)', fmt(baseline), '1.0', '', '', '', '']];
  let failures = 0;
  const notes = [];
  for (const [name, fn, inputs] of cases(q)) {
    let us;
    try {
      us = perCallMicros(() => fn(...inputs));
    } catch (e) {
      rows.push([name, 'error', '', String(e.message).slice(0, 60), '', '', '']);
      failures++;
      continue;
    }
    const eager = [fmt(us), (us / baseline).toFixed(1), us <= GOAL_US ? 'met' : 'not met'];
    let traced = ['', '', ''];
    if (options['eager-only']) {
      rows.push([name, ...eager, ...traced]);
      continue;
    }
    try {
      const t = tracedPerOpMicros(fn, inputs);
      traced = [fmt(t.perOp), t.perOp <= TRACED_GOAL_US ? 'met' : 'not met', fmt(t.plan)];
    } catch (e) {
      // Ops computed in JS (cat, mean) have no plan step: the note says which and why.
      notes.push(`${name}: ${String(e.message).split('\n')[0]}`);
      traced = [`n/a [${notes.length}]`, '', ''];
    }
    rows.push([name, ...eager, ...traced]);
  }
  console.log(`\nPer-call overhead, eager and traced, tiny tensors (threads: ${q.backend.info().threads}; goals: eager <= ${GOAL_US} us, traced <= ${TRACED_GOAL_US} us per op)`);
  printTable(['op', 'eager us/call', 'x empty call', `<= ${GOAL_US} us`, 'traced us/op', `<= ${TRACED_GOAL_US} us`, '1-op plan us/call'], rows);
  notes.forEach((text, i) => console.log(`  [${i + 1}] ${text}`));
  process.exitCode = failures ? 1 : 0;
}

main();
