// The data-movement and reduction ops around the convs (channel shuffle, contiguous() across formats, broadcast mul, cat, mean) per call, qkernels against PyTorch timed in the same run.
// Usage: node bench/strided-copy.js [--min-time s] [--rounds n] [--quick] [--lib dir] [--clock cpu|wall]
//
// Shapes from issue 12's whole-model profile (ShuffleNet's shuffles, MobileNetV3's SE mul,
// ShuffleNet's cat). quint8 tensors, one thread on both sides. PyTorch (Debian's 1.13, run as
// /usr/bin/python3 or QK_BENCH_PYTHON) times the same ops in its own process between the
// qkernels rounds. --lib <dir> loads qkernels' dist from another checkout (a before/after
// comparison of lib/ against the same addon build). --clock cpu (the default) times both sides in
// process CPU time, which on a shared machine leaves out the waits for a core; wall is elapsed time.
'use strict';

const path = require('path');
const { spawnSync } = require('child_process');
const { parseArgs, timeSync, median, fmt, fmtRatio, printTable, Notes } = require('./lib/common');

const { options } = parseArgs(process.argv.slice(2), { 'min-time': 'number', rounds: 'number', quick: 'boolean', lib: 'string', clock: 'string' });
const clock = options.clock ?? 'cpu';
if (clock !== 'cpu' && clock !== 'wall') throw new Error(`--clock takes cpu or wall, got ${clock}`);
const minTime = options.quick ? 0.01 : options['min-time'] ?? 0.2;
const rounds = options.quick ? 1 : options.rounds ?? 5;
const q = require(options.lib ? path.resolve(options.lib, 'dist') : '..');
const PYTHON = process.env.QK_BENCH_PYTHON || '/usr/bin/python3';

// Each case: a name, the qkernels call (inputs built once), and the same op in torch (python source,
// `x`/`a`/`b` built by `setup`).
const CASES = [
  { name: 'channel shuffle [1,192,6,6] g2', shape: [1, 192, 6, 6], kind: 'shuffle' },
  { name: 'channel shuffle [1,232,14,14] g2', shape: [1, 232, 14, 14], kind: 'shuffle' },
  { name: 'contiguous NHWC->NCHW [1,64,56,56]', shape: [1, 64, 56, 56], kind: 'nchw' },
  { name: 'mul [1,72,1,1] x [1,72,24,24]', shape: [1, 72, 24, 24], kind: 'mul' },
  { name: 'cat 2x [1,58,28,28] NHWC dim 1', shape: [1, 58, 28, 28], kind: 'cat' },
  { name: 'cat 4x [1,64,28,28] NCHW dim 1', shape: [1, 64, 28, 28], kind: 'cat4' },
  { name: 'mean([2,3]) [1,1024,3,3]', shape: [1, 1024, 3, 3], kind: 'mean' },
  { name: 'mean([2,3]) [1,1024,7,7] NHWC', shape: [1, 1024, 7, 7], kind: 'meanNHWC' },
];

function quint8(shape, seed) {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: n }, (_, i) => (((i * 37 + seed * 11) % 97) - 48) / 24);
  return q.quantizePerTensor(q.tensor(values, shape), 1 / 32, 128, 'quint8');
}

function qkCall(c) {
  const [n, ch, h, w] = c.shape;
  if (c.kind === 'shuffle') {
    const x = quint8(c.shape, 1);
    return () => x.view([n, 2, ch / 2, h, w]).transpose(1, 2).contiguous().view(c.shape);
  }
  if (c.kind === 'nchw') {
    const x = quint8(c.shape, 2).contiguous('channels_last');
    return () => x.contiguous();
  }
  if (c.kind === 'mul') {
    const a = quint8([n, ch, 1, 1], 3);
    const b = quint8(c.shape, 4);
    return () => q.ops.quantized.mul(a, b, 1 / 16, 128);
  }
  if (c.kind === 'cat4') {
    const xs = [7, 8, 9, 10].map((seed) => quint8(c.shape, seed));
    return () => q.ops.quantized.cat(xs, 1, 1 / 32, 128);
  }
  if (c.kind === 'mean' || c.kind === 'meanNHWC') {
    const x = c.kind === 'mean' ? quint8(c.shape, 11) : quint8(c.shape, 11).contiguous('channels_last');
    return () => x.mean([2, 3]);
  }
  const a = quint8(c.shape, 5).contiguous('channels_last');
  const b = quint8(c.shape, 6).contiguous('channels_last');
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
def call(c):
    n, ch, h, w = c['shape']
    k = c['kind']
    if k == 'shuffle':
        x = qt(c['shape'], 1)
        return lambda: x.view(n, 2, ch // 2, h, w).transpose(1, 2).contiguous().view(n, ch, h, w)
    if k == 'nchw':
        x = qt(c['shape'], 2).contiguous(memory_format=torch.channels_last)
        return lambda: x.contiguous()
    if k == 'mul':
        a = qt([n, ch, 1, 1], 3); b = qt(c['shape'], 4)
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
  const runQk = (n) => {
    for (const c of CASES) {
      const f = qkCall(c);
      for (let r = 0; r < n; r++) qk.get(c.name).push(timeSync(f, minTime, { clock }));
    }
  };
  runQk(Math.ceil(rounds / 2));
  const torch = torchTimes(notes);
  runQk(Math.max(1, Math.floor(rounds / 2)));
  const rows = CASES.map((c) => {
    const mine = median(qk.get(c.name)) * 1e6;
    const theirs = torch[c.name] !== undefined ? torch[c.name] * 1e6 : NaN;
    return [c.name, fmt(mine), fmt(theirs), fmtRatio(theirs / mine)];
  });
  console.log(`data-movement and reduction ops, quint8, 1 thread, ${clock} µs per call (median of ${rounds} rounds; ratio = torch / qkernels, > 1 is faster)`);
  printTable(['op', 'qkernels µs', 'torch 1.13 µs', 'torch/qk'], rows);
  notes.print();
}

main();
