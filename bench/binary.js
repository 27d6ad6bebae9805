// bench section "binary": bitorch's binary conv1d/conv2d on the XNOR-popcount kernels vs qkernels' int8 conv and torch's float conv, one thread.
//
//   node bench/binary.js [--quick] [--min-time S]      (also run by npm run bench)
//   node bench/binary.js --bits                        forwardBits alone, 7 samples of 0.12 s
//                                                      per shape (min and median): for comparing
//                                                      two builds (QKERNELS_ADDON) in the same minutes
//   node bench/binary.js --float                       the same for forward(floats) with recycle()
//                                                      of each output (the float layer, recycled)
// Rows, per shape (binary-network sizes: 256 channels, 3-tap / 3x3 kernels):
//   binary bits->bits   QConvNd.forwardBits on a BitTensor: activations stay packed between layers
//   binary float->float QConvNd.forward on floats: sign + pack, XNOR conv, float out (bitorch's API)
//   ... recycled        the same with each output given back by recycle() (lib/handoff.ts), so the
//                       next output reuses its buffer instead of faulting in fresh pages; the
//                       int8 conv is timed the same way for that ratio
//   int8 conv           nnq.ConvNd on quint8 channels-last input, same shape (the VNNI kernels here)
//   torch float conv    F.convNd(F.pad(x, -1), w) on +-1 fp32 tensors (bitorch's inference), 1 thread
'use strict';

const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');
const { fmt, fmtRatio, median, printTable, timeSync } = require('./lib/common');
const { loadQkernels } = require('./lib/qk');
const { PYTHON, pythonProblem } = require('./peers/torch');

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const floatOnly = argv.includes('--float');
const bitsOnly = argv.includes('--bits') || floatOnly;
const minTimeArg = argv.find((a) => a.startsWith('--min-time'));
const minTime = quick ? 0.02 : minTimeArg ? Number(minTimeArg.split('=')[1] ?? argv[argv.indexOf(minTimeArg) + 1]) : 0.3;

const SHAPES = [
  { id: 'conv1d 256->256 k3 L1024', dims: 1, batch: 1, cin: 256, cout: 256, kernel: 3, padding: 1, spatial: [1024] },
  { id: 'conv2d 256->256 3x3 28x28', dims: 2, batch: 1, cin: 256, cout: 256, kernel: 3, padding: 1, spatial: [28, 28] },
];

function randomSigns(n, seed) {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s & 0x80000000 ? -1 : 1;
  });
}

/** Median of 3 timed runs (seconds per call) on the process CPU clock: single-threaded work on a shared machine. */
function time(fn) {
  return median([0, 1, 2].map(() => timeSync(fn, minTime, { clock: 'cpu' })));
}

/** --bits: 7 shorter runs, so that the minimum shows the build and the median the load. */
function timeSpread(fn) {
  const runs = Array.from({ length: 7 }, () => timeSync(fn, 0.12, { clock: 'cpu' }));
  return { min: Math.min(...runs), median: median(runs) };
}

function torchTimes() {
  const problem = pythonProblem();
  if (problem) return { error: problem };
  const r = spawnSync(PYTHON, [path.join(__dirname, 'peers', 'torch_float_conv.py'), JSON.stringify(SHAPES), String(minTime)], {
    encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) return { error: (r.stderr || '').trim().split('\n').pop() };
  return { times: new Map(JSON.parse(r.stdout).map((e) => [e.id, e.seconds])) };
}

function main() {
  const { q, error } = loadQkernels();
  if (!q) {
    console.log(`## binary: skipped (${error})`);
    return;
  }
  const { bitorch, nnq, quantizePerTensor, tensor, backend, recycle } = q;
  backend.setNumThreads(1);
  const info = backend.info();
  console.log('## binary layers (bitorch) vs int8 conv vs torch float conv, 1 thread');
  console.log(`cpu: ${(os.cpus()[0] || {}).model}; qkernels isa ${info.isa}; features ${info.features.join(' ')}`);
  console.log(`load average: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} (${os.cpus().length} CPUs)`);
  const torch = bitsOnly ? { error: 'not run (--bits / --float)' } : torchTimes();
  const rows = [];
  for (const s of SHAPES) {
    const kernel = Array(s.dims).fill(s.kernel);
    const positions = s.spatial.reduce((a, b) => a * b, 1);
    const x = tensor(randomSigns(s.batch * s.cin * positions, 1), [s.batch, s.cin, ...s.spatial]);
    const w = tensor(randomSigns(s.cout * s.cin * s.kernel ** s.dims, 2), [s.cout, s.cin, ...kernel]);
    const Layer = s.dims === 1 ? bitorch.QConv1d : bitorch.QConv2d;
    const layer = new Layer(s.cin, s.cout, kernel, { padding: s.padding });
    layer.setWeight(w);
    const bits = bitorch.pack(x);
    if (bitsOnly) {
      const spread = timeSpread(floatOnly ? () => recycle(layer.forward(x)) : () => layer.forwardBits(bits));
      rows.push([s.id, `${fmt(spread.min * 1e6)} µs`, `${fmt(spread.median * 1e6)} µs`]);
      continue;
    }
    const tBits = time(() => layer.forwardBits(bits));
    const tFloat = time(() => layer.forward(x));
    const tFloatRecycled = time(() => recycle(layer.forward(x)));
    // int8: the same shape on qkernels' quantized conv (quint8 channels-last in, quint8 out).
    const Conv = s.dims === 1 ? nnq.Conv1d : nnq.Conv2d;
    const conv = new Conv(s.cin, s.cout, s.kernel, { padding: s.padding });
    conv.setWeightBias(quantizePerTensor(w, 0.05, 0, 'qint8'), null);
    conv.scale = 0.5;
    conv.zeroPoint = 128;
    let xq = quantizePerTensor(x, 0.05, 128, 'quint8');
    if (s.dims === 2) xq = xq.contiguous('channels_last');
    const tInt8 = time(() => conv.forward(xq));
    const tInt8Recycled = time(() => recycle(conv.forward(xq)));
    const tTorch = torch.times ? torch.times.get(s.id) : NaN;
    rows.push([s.id, `${fmt(tBits * 1e6)} µs`, `${fmt(tFloat * 1e6)} µs`, `${fmt(tFloatRecycled * 1e6)} µs`, `${fmt(tInt8 * 1e6)} µs`,
               `${fmt(tInt8Recycled * 1e6)} µs`, torch.times ? `${fmt(tTorch * 1e6)} µs` : 'n/a',
               fmtRatio(tInt8 / tBits), fmtRatio(tInt8 / tFloat), fmtRatio(tInt8Recycled / tFloatRecycled), fmtRatio(tTorch / tBits), fmtRatio(tTorch / tFloat)]);
  }
  if (bitsOnly) {
    const what = floatOnly ? 'float->float recycled' : 'bits->bits';
    printTable(['shape', `${what} min`, `${what} median`], rows);
    console.log(`  load average after: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
    return;
  }
  printTable(['shape', 'binary bits->bits', 'binary float->float', '... recycled', 'int8 conv', '... recycled', 'torch float conv',
              'int8/bits', 'int8/float-layer', '(both recycled)', 'torch/bits', 'torch/float-layer'], rows);
  if (torch.error) console.log(`  torch float conv unavailable: ${torch.error}`);
  console.log('  issue 13 goals: int8/bits >= 8x, int8/float-layer >= 3x, torch/bits >= 20x (doc/binary.md: the bound on this CPU)');
  console.log('  (both recycled): each call\'s output given back with recycle(), the int8 conv\'s too');
  console.log(`  load average after: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
}

main();
