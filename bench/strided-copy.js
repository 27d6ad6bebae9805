// The non-conv ops around the convs (channel shuffle, contiguous() across formats, add, broadcast mul, cat, mean, pooling, hardswish/hardsigmoid, requantize) per call, qkernels against PyTorch timed in the same run.
// Usage: node bench/strided-copy.js [--min-time s] [--rounds n] [--quick] [--lib dir] [--baseline dir] [--clock cpu|wall] [--only a,b]
//
// Shapes from issue 12's whole-model profile at 96x96 (ShuffleNet's shuffles and cat,
// MobileNetV3's SE mul (and a same-shape channels-last mul beside it) and activations, ResNet's
// residual add and stem max pool, the pooling heads). quint8 tensors, one thread on both sides. Requantize is what a model's
// DeQuantStub -> QuantStub pair does, dequantize then quantize_per_tensor with other qparams, on
// both sides (torch 1.13 has no cheaper quantized-to-quantized op: torch.ops.quantized.cat of one
// tensor costs the same, measured 1.19 vs 1.16 ms). --only keeps the cases whose name contains
// one of the comma-separated words. PyTorch (Debian's 1.13, run as
// /usr/bin/python3 or QK_BENCH_PYTHON) times the same ops in its own process between the
// qkernels rounds. --lib <dir> loads qkernels' dist from another checkout (a before/after
// comparison of lib/ against the same addon build). --clock cpu (the default) times both sides in
// process CPU time, which on a shared machine leaves out the waits for a core; wall is elapsed time.
'use strict';

const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { parseArgs, timeSync, median, fmt, fmtRatio, printTable, Notes } = require('./lib/common');

const { options } = parseArgs(process.argv.slice(2), { 'min-time': 'number', rounds: 'number', quick: 'boolean', lib: 'string', baseline: 'string', clock: 'string', only: 'string' });
const clock = options.clock ?? 'cpu';
if (clock !== 'cpu' && clock !== 'wall') throw new Error(`--clock takes cpu or wall, got ${clock}`);
const minTime = options.quick ? 0.01 : options['min-time'] ?? 0.2;
const rounds = options.quick ? 1 : options.rounds ?? 5;
const q = require(options.lib ? path.resolve(options.lib, 'dist') : '..');
// --baseline <dir>: another checkout's dist and addon, timed in the same rounds (a before/after column).
const base = options.baseline ? require(path.resolve(options.baseline, 'dist')) : null;
const PYTHON = process.env.QK_BENCH_PYTHON || '/usr/bin/python3';

// Each case: a name, the qkernels call (inputs built once), and the same op in torch (python source,
// `x`/`a`/`b` built by `setup`).
// `nhwc`: the inputs are channels-last (both sides).
const ALL_CASES = [
  { name: 'add [1,64,96,96]', shape: [1, 64, 96, 96], kind: 'add' },
  { name: 'add [1,64,96,96] NHWC', shape: [1, 64, 96, 96], kind: 'add', nhwc: true },
  { name: 'mul [1,72,1,1] x [1,72,24,24] NHWC', shape: [1, 72, 24, 24], kind: 'mul', nhwc: true },
  { name: 'mul [1,72,24,24] x [1,72,24,24] NHWC', shape: [1, 72, 24, 24], kind: 'mulSame', nhwc: true },
  { name: 'maxPool2d [1,64,48,48] 3x3 s2 p1', shape: [1, 64, 48, 48], kind: 'maxpool' },
  { name: 'maxPool2d [1,64,48,48] 3x3 s2 p1 NHWC', shape: [1, 64, 48, 48], kind: 'maxpool', nhwc: true },
  { name: 'avgPool2d [1,64,48,48] 3x3 s2 p1', shape: [1, 64, 48, 48], kind: 'avgpool' },
  { name: 'avgPool2d [1,64,48,48] 3x3 s2 p1 NHWC', shape: [1, 64, 48, 48], kind: 'avgpool', nhwc: true },
  { name: 'adaptiveAvgPool2d [1,1024,7,7] -> 1x1 NHWC', shape: [1, 1024, 7, 7], kind: 'adaptive1', nhwc: true },
  { name: 'adaptiveAvgPool2d [1,256,14,14] -> 7x7 NHWC', shape: [1, 256, 14, 14], kind: 'adaptive7', nhwc: true },
  { name: 'hardswish [1,72,24,24]', shape: [1, 72, 24, 24], kind: 'hardswish' },
  { name: 'hardsigmoid [1,72,24,24]', shape: [1, 72, 24, 24], kind: 'hardsigmoid' },
  { name: 'requantize [1,64,56,56]', shape: [1, 64, 56, 56], kind: 'requantize' },
  { name: 'channel shuffle [1,192,6,6] g2', shape: [1, 192, 6, 6], kind: 'shuffle' },
  { name: 'channel shuffle [1,232,14,14] g2', shape: [1, 232, 14, 14], kind: 'shuffle' },
  { name: 'contiguous NHWC->NCHW [1,64,56,56]', shape: [1, 64, 56, 56], kind: 'nchw' },
  { name: 'mul [1,72,1,1] x [1,72,24,24]', shape: [1, 72, 24, 24], kind: 'mul' },
  { name: 'cat 2x [1,58,28,28] NHWC dim 1', shape: [1, 58, 28, 28], kind: 'cat' },
  { name: 'cat 4x [1,64,28,28] NCHW dim 1', shape: [1, 64, 28, 28], kind: 'cat4' },
  { name: 'mean([2,3]) [1,1024,3,3]', shape: [1, 1024, 3, 3], kind: 'mean' },
  { name: 'mean([2,3]) [1,1024,7,7] NHWC', shape: [1, 1024, 7, 7], kind: 'meanNHWC' },
];
const CASES = options.only ? ALL_CASES.filter((c) => options.only.split(',').some((w) => c.name.includes(w))) : ALL_CASES;

function quint8(q, shape, seed) {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: n }, (_, i) => (((i * 37 + seed * 11) % 97) - 48) / 24);
  return q.quantizePerTensor(q.tensor(values, shape), 1 / 32, 128, 'quint8');
}

function qkCall(q, c) {
  const [n, ch, h, w] = c.shape;
  const layout = (x) => (c.nhwc ? x.contiguous('channels_last') : x);
  const qF = q.nn.quantized.functional;
  if (c.kind === 'add') {
    const a = layout(quint8(q, c.shape, 12));
    const b = layout(quint8(q, c.shape, 13));
    return () => q.ops.quantized.add(a, b, 1 / 16, 128);
  }
  if (c.kind === 'maxpool' || c.kind === 'avgpool') {
    const x = layout(quint8(q, c.shape, 14));
    const pool = c.kind === 'maxpool' ? qF.maxPool2d : qF.avgPool2d;
    return () => pool(x, 3, { stride: 2, padding: 1 });
  }
  if (c.kind === 'adaptive1' || c.kind === 'adaptive7') {
    const x = layout(quint8(q, c.shape, 15));
    const size = c.kind === 'adaptive1' ? [1, 1] : [7, 7];
    return () => qF.adaptiveAvgPool2d(x, size);
  }
  if (c.kind === 'hardswish') {
    const x = quint8(q, c.shape, 16);
    return () => qF.hardswish(x, 1 / 16, 64);
  }
  if (c.kind === 'hardsigmoid') {
    const x = quint8(q, c.shape, 17);
    return () => qF.hardsigmoid(x);
  }
  if (c.kind === 'requantize') {
    const x = quint8(q, c.shape, 18);
    return () => q.quantizePerTensor(q.dequantize(x), 1 / 20, 120, 'quint8');
  }
  if (c.kind === 'shuffle') {
    const x = quint8(q, c.shape, 1);
    return () => x.view([n, 2, ch / 2, h, w]).transpose(1, 2).contiguous().view(c.shape);
  }
  if (c.kind === 'nchw') {
    const x = quint8(q, c.shape, 2).contiguous('channels_last');
    return () => x.contiguous();
  }
  if (c.kind === 'mul' || c.kind === 'mulSame') {
    const a = layout(quint8(q, c.kind === 'mul' ? [n, ch, 1, 1] : c.shape, 3));
    const b = layout(quint8(q, c.shape, 4));
    return () => q.ops.quantized.mul(a, b, 1 / 16, 128);
  }
  if (c.kind === 'cat4') {
    const xs = [7, 8, 9, 10].map((seed) => quint8(q, c.shape, seed));
    return () => q.ops.quantized.cat(xs, 1, 1 / 32, 128);
  }
  if (c.kind === 'mean' || c.kind === 'meanNHWC') {
    const x = c.kind === 'mean' ? quint8(q, c.shape, 11) : quint8(q, c.shape, 11).contiguous('channels_last');
    return () => x.mean([2, 3]);
  }
  const a = quint8(q, c.shape, 5).contiguous('channels_last');
  const b = quint8(q, c.shape, 6).contiguous('channels_last');
  return () => q.ops.quantized.cat([a, b], 1, 1 / 32, 128);
}

const TORCH = `
import json, sys, time, torch
torch.set_num_threads(1)
torch.backends.quantized.engine = 'onednn'
cases, min_time, rounds, clock = json.loads(sys.argv[1])
now = time.process_time if clock == 'cpu' else time.perf_counter
def qt(shape, seed):
    n = 1
    for s in shape: n *= s
    v = torch.tensor([(((i * 37 + seed * 11) % 97) - 48) / 24 for i in range(n)], dtype=torch.float32).reshape(shape)
    return torch.quantize_per_tensor(v, 1 / 32, 128, torch.quint8)
import torch.ao.nn.quantized.functional as qF
def call(c):
    n, ch, h, w = c['shape']
    k = c['kind']
    layout = (lambda x: x.contiguous(memory_format=torch.channels_last)) if c.get('nhwc') else (lambda x: x)
    if k == 'add':
        a = layout(qt(c['shape'], 12)); b = layout(qt(c['shape'], 13))
        return lambda: torch.ops.quantized.add(a, b, 1 / 16, 128)
    if k in ('maxpool', 'avgpool'):
        x = layout(qt(c['shape'], 14))
        pool = qF.max_pool2d if k == 'maxpool' else qF.avg_pool2d
        return lambda: pool(x, 3, 2, 1)
    if k in ('adaptive1', 'adaptive7'):
        x = layout(qt(c['shape'], 15))
        size = [1, 1] if k == 'adaptive1' else [7, 7]
        return lambda: qF.adaptive_avg_pool2d(x, size)
    if k == 'hardswish':
        x = qt(c['shape'], 16)
        return lambda: qF.hardswish(x, 1 / 16, 64)
    if k == 'hardsigmoid':
        x = qt(c['shape'], 17)
        return lambda: qF.hardsigmoid(x)
    if k == 'requantize':
        x = qt(c['shape'], 18)
        return lambda: torch.quantize_per_tensor(x.dequantize(), 1 / 20, 120, torch.quint8)
    if k == 'shuffle':
        x = qt(c['shape'], 1)
        return lambda: x.view(n, 2, ch // 2, h, w).transpose(1, 2).contiguous().view(n, ch, h, w)
    if k == 'nchw':
        x = qt(c['shape'], 2).contiguous(memory_format=torch.channels_last)
        return lambda: x.contiguous()
    if k in ('mul', 'mulSame'):
        a = layout(qt([n, ch, 1, 1] if k == 'mul' else c['shape'], 3)); b = layout(qt(c['shape'], 4))
        return lambda: torch.ops.quantized.mul(a, b, 1 / 16, 128)
    if k == 'cat4':
        xs = [qt(c['shape'], s) for s in (7, 8, 9, 10)]
        return lambda: torch.ops.quantized.cat(xs, 1, 1 / 32, 128)
    if k in ('mean', 'meanNHWC'):
        x = qt(c['shape'], 11)
        if k == 'meanNHWC': x = x.contiguous(memory_format=torch.channels_last)
        return lambda: x.mean([2, 3])
    a = qt(c['shape'], 5).contiguous(memory_format=torch.channels_last)
    b = qt(c['shape'], 6).contiguous(memory_format=torch.channels_last)
    return lambda: torch.ops.quantized.cat([a, b], 1, 1 / 32, 128)
def timed(f):
    f()
    calls, batch, start = 0, 1, now()
    while True:
        for _ in range(batch): f()
        calls += batch
        end = now()
        if end - start >= min_time: return (end - start) / calls
        batch *= 2
out = {}
for c in cases:
    f = call(c)
    out[c['name']] = sorted(timed(f) for _ in range(rounds))[rounds // 2]
print(json.dumps(out))
`;

function torchTimes(notes) {
  const r = spawnSync(PYTHON, ['-c', TORCH, JSON.stringify([CASES, minTime, rounds, clock])], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) {
    notes.ref(`torch: ${(r.stderr || r.error || '').toString().trim().split('\n').pop()}`);
    return {};
  }
  return JSON.parse(r.stdout);
}

function main() {
  const notes = new Notes();
  // Half the qkernels rounds before torch's process, half after: both see the same machine load.
  const qk = new Map(CASES.map((c) => [c.name, []]));
  const before = new Map(CASES.map((c) => [c.name, []]));
  // "recycled": each output handed back with recycle() (lib/handoff.ts), so the next output of
  // its size reuses its pages, as torch's allocator reuses freed blocks; the plain column pays a
  // fresh ArrayBuffer (zeroed pages faulted in by the kernel's stores) per call.
  const recycled = new Map(CASES.map((c) => [c.name, []]));
  const runQk = (n) => {
    for (const c of CASES) {
      const f = qkCall(q, c);
      const g = base && qkCall(base, c);
      for (let r = 0; r < n; r++) {
        qk.get(c.name).push(timeSync(f, minTime, { clock }));
        if (g) before.get(c.name).push(timeSync(g, minTime, { clock }));
        if (!base) recycled.get(c.name).push(timeSync(() => q.recycle(f()), minTime, { clock }));
      }
    }
  };
  runQk(Math.ceil(rounds / 2));
  const torch = torchTimes(notes);
  runQk(Math.max(1, Math.floor(rounds / 2)));
  const rows = CASES.map((c) => {
    const mine = median(qk.get(c.name)) * 1e6;
    const theirs = torch[c.name] !== undefined ? torch[c.name] * 1e6 : NaN;
    const met = Number.isNaN(theirs) ? '' : theirs / mine >= 1.5 ? 'met' : 'not met';
    if (!base) {
      const reused = median(recycled.get(c.name)) * 1e6;
      const metReused = Number.isNaN(theirs) ? '' : theirs / reused >= 1.5 ? 'met' : 'not met';
      return [c.name, fmt(mine), fmt(theirs), fmtRatio(theirs / mine), met, fmt(reused), fmtRatio(theirs / reused), metReused];
    }
    const old = median(before.get(c.name)) * 1e6;
    return [c.name, fmt(old), fmtRatio(theirs / old), fmt(mine), fmt(theirs), fmtRatio(theirs / mine), met];
  });
  console.log(`non-conv ops, quint8, 1 thread, ${clock} µs per call (median of ${rounds} rounds; ratio = torch / qkernels, > 1 is faster; goal >= 1.5x)`);
  if (base) console.log(`baseline: ${path.resolve(options.baseline)} (its dist and addon), timed in the same rounds`);
  if (!base) console.log('"recycled": the same call with its output handed back by recycle() (no fresh pages per call)');
  printTable(base ? ['op', 'baseline µs', 'torch/baseline', 'qkernels µs', 'torch 1.13 µs', 'torch/qk', '>= 1.5x']
    : ['op', 'qkernels µs', 'torch 1.13 µs', 'torch/qk', '>= 1.5x', 'recycled µs', 'torch/recycled', '>= 1.5x'], rows);
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} after the run; CPU ${os.cpus()[0].model}`);
  notes.print();
}

main();
