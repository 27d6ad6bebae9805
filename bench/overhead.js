// Per-call overhead from JS: the eager call of every op family on a tiny tensor against an empty N-API call (issue 11's "Measure").
// Usage: node bench/overhead.js [--min-time s] [--rounds n] [--quick]
//
// The tensors are tiny (a few dozen elements) so that what is timed is the cost around the
// kernel: argument checks, N-API crossings, output allocation and plan derivation. The
// baseline is `addon.getNumThreads()`, a binding call that does no work. The goal is
// eager <= 3 us per op; each row prints met/not met. Traced rows are added by the trace issue.
'use strict';

const { parseArgs, timeSync, median, fmt, printTable } = require('./lib/common');
const q = require('..');
const { addon } = require('../dist/native');

const { options } = parseArgs(process.argv.slice(2), { 'min-time': 'number', rounds: 'number', quick: 'boolean' });
const minTime = options.quick ? 0.01 : options['min-time'] ?? 0.2;
const rounds = options.quick ? 1 : options.rounds ?? 5;
const GOAL_US = 3;

// A deterministic tiny float tensor of `shape`, values in [-1, 1).
function floats(shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  return q.tensor(Float32Array.from({ length: n }, (_, i) => ((i * 37) % 64) / 32 - 1), shape);
}
const quint8 = (shape) => q.quantizePerTensor(floats(shape), 1 / 64, 128, 'quint8');

function cases() {
  const { nnq, nn, qF } = q;
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
  return [
    ['linear (nnq.Linear 8->8)', () => linear.forward(x2)],
    ['conv2d 3x3 (nnq.Conv2d 4->4)', () => conv.forward(x4)],
    ['convTranspose2d (4->4 k2 s2)', () => convT.forward(x4)],
    ['add (QFunctional)', () => f.add(x4, x4)],
    ['mul (QFunctional)', () => f.mul(x4, x4)],
    ['cat (QFunctional)', () => f.cat([x4, x4], 1)],
    ['relu (qF.relu)', () => qF.relu(x4)],
    ['hardswish (nnq.Hardswish)', () => hardswish.forward(x4)],
    ['softmax (nnq.Softmax)', () => softmax.forward(x4)],
    ['maxPool2d 2', () => maxPool.forward(x4)],
    ['avgPool2d 2', () => avgPool.forward(x4)],
    ['adaptiveAvgPool2d 1', () => adaptive.forward(x4)],
    ['mean([2,3]) (QTensor.mean)', () => x4.mean([2, 3])],
    ['batchNorm2d (nnq.BatchNorm2d)', () => bn.forward(x4)],
    ['layerNorm (nnq.LayerNorm)', () => layerNorm.forward(x4)],
    ['upsample nearest x2', () => upsample.forward(x4)],
    ['embedding (nnq.Embedding)', () => embedding.forward(ids)],
    ['embeddingBag sum', () => bag.forward(ids, offsets)],
    ['quantize (nnq.Quantize)', () => quantize.forward(fx)],
    ['dequantize (nnq.DeQuantize)', () => dequantize.forward(x4)],
    ['functional linear (qF.linear)', () => qF.linear(x2, linear.weight(), linear.bias(), { scale: 1 / 32, zeroPoint: 128 })],
  ];
}

function perCallMicros(fn) {
  const samples = [];
  for (let r = 0; r < rounds; r++) samples.push(timeSync(fn, minTime) * 1e6);
  return median(samples);
}

function main() {
  const baseline = perCallMicros(() => addon.getNumThreads());
  const rows = [['empty N-API call (baseline)', fmt(baseline), '1.0', '']];
  let failures = 0;
  for (const [name, fn] of cases()) {
    let us;
    try {
      us = perCallMicros(fn);
    } catch (e) {
      rows.push([name, 'error', '', String(e.message).slice(0, 60)]);
      failures++;
      continue;
    }
    rows.push([name, fmt(us), (us / baseline).toFixed(1), us <= GOAL_US ? 'met' : 'not met']);
  }
  console.log(`\nPer-call overhead, eager, tiny tensors (1 thread: ${q.backend.info().threads}; goal <= ${GOAL_US} us per op)`);
  printTable(['op', 'us/call', 'x empty call', `<= ${GOAL_US} us`], rows);
  process.exitCode = failures ? 1 : 0;
}

main();
