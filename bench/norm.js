// bench section "norm": qkernels' quantized layer / group / instance norm and softmax against PyTorch's, one thread, model-sized tensors.
//
//   node bench/norm.js [--quick] [--min-time S]      (also run by npm run bench)
// Rows: a transformer's layer norm ([128, 768] and [1, 197, 768], normalized over 768), a group
// norm of a conv net ([1, 256, 28, 28], 32 groups), an instance norm ([1, 64, 56, 56]), and
// softmax over attention scores ([12, 128, 128], dim 2) and a classifier's logits ([8, 1000]),
// quint8 and qint8, the same integers and qparams for both libraries (weight 1.5, bias 0.25). Times are
// CPU seconds per call (one thread on each side, so a shared machine's waits are left out), the
// median of 5 runs; torch runs in one Python process after qkernels' runs. Goal (issue 12's
// non-conv ops): >= 1.5x torch per call.
'use strict';
const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');
const { fmt, fmtRatio, median, parseArgs, printTable, timeSync } = require('./lib/common');
const { loadQkernels } = require('./lib/qk');
const { PYTHON, pythonProblem } = require('./peers/torch');

const { options } = parseArgs(process.argv.slice(2), { quick: 'boolean', 'min-time': 'number' });
const minTime = options['min-time'] ?? (options.quick ? 0.01 : 0.2);
const GOAL = 1.5;

const CASES = [
  { id: 'layer_128x768', op: 'layer', shape: [128, 768], normalized: [768] },
  { id: 'layer_1x197x768', op: 'layer', shape: [1, 197, 768], normalized: [768] },
  { id: 'group_256x28x28_g32', op: 'group', shape: [1, 256, 28, 28], groups: 32 },
  { id: 'instance_64x56x56', op: 'instance', shape: [1, 64, 56, 56] },
  { id: 'softmax_12x128x128_dim2', op: 'softmax', shape: [12, 128, 128], dim: 2 },
  { id: 'softmax_8x1000_dim1', op: 'softmax', shape: [8, 1000], dim: 1 },
];

/** Deterministic integers over the dtype's whole range. */
function values(n, dtype) {
  const out = dtype === 'quint8' ? new Uint8Array(n) : new Int8Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function main() {
  const { q, error } = loadQkernels();
  if (!q) {
    console.log(`## norm: skipped (${error})`);
    return;
  }
  q.backend.setNumThreads(1);
  console.log('## norm: quantized layer / group / instance norm and softmax vs PyTorch, 1 thread, CPU time per call');
  console.log(`cpu: ${(os.cpus()[0] || {}).model}; qkernels isa ${q.backend.info().isa}; load average ${os.loadavg()[0].toFixed(2)} (${os.cpus().length} CPUs)`);
  const all = [];
  for (const c of CASES) {
    for (const dtype of ['quint8', 'qint8']) {
      const numel = c.shape.reduce((a, b) => a * b, 1);
      const ints = values(numel, dtype);
      // Softmax outputs in [0, 1]: nnq.Softmax's usual 1/256 with the dtype's lowest zero point.
      const out = c.op === 'softmax' ? { out_scale: 1 / 256, out_zero_point: dtype === 'quint8' ? 0 : -128 }
        : { out_scale: 0.04, out_zero_point: dtype === 'quint8' ? 120 : -3 };
      all.push({ ...c, id: `${c.id}_${dtype}`, dtype, ints, scale: 0.05, zero_point: dtype === 'quint8' ? 128 : 0, eps: 1e-5, ...out });
    }
  }
  const mine = new Map();
  for (const c of all) {
    const x = q.makePerTensorQuantizedTensor(c.ints, c.shape, c.scale, c.zero_point, c.dtype);
    const ops = q.ops.quantized;
    let call;
    if (c.op === 'softmax') {
      call = () => ops.softmax(x, c.dim, c.out_scale, c.out_zero_point);
    } else if (c.op === 'layer') {
      const n = c.normalized.reduce((a, b) => a * b, 1);
      const w = new Float32Array(n).fill(1.5), b = new Float32Array(n).fill(0.25);
      call = () => ops.layerNorm(x, c.normalized, w, b, c.eps, c.out_scale, c.out_zero_point);
    } else {
      const w = new Float32Array(c.shape[1]).fill(1.5), b = new Float32Array(c.shape[1]).fill(0.25);
      call = c.op === 'group'
        ? () => ops.groupNorm(x, c.groups, w, b, c.eps, c.out_scale, c.out_zero_point)
        : () => ops.instanceNorm(x, w, b, c.eps, c.out_scale, c.out_zero_point);
    }
    mine.set(c.id, median([0, 1, 2, 3, 4].map(() => timeSync(call, minTime, { clock: 'cpu' }))));
  }
  let torch = null;
  const problem = pythonProblem();
  if (problem) {
    console.log(`torch peer unavailable: ${problem}`);
  } else {
    const wire = all.map(({ ints, ...c }) => ({ ...c, values: Array.from(ints) }));
    const r = spawnSync(PYTHON, [path.join(__dirname, 'peers', 'torch_norm.py'), String(minTime)], {
      input: JSON.stringify(wire), encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    if (r.status !== 0) console.log(`torch peer failed: ${(r.error && r.error.message) || (r.stderr || '').trim().split('\n').pop()}`);
    else torch = new Map(JSON.parse(r.stdout).map((e) => [e.id, e.seconds]));
  }
  const rows = all.map((c) => {
    const a = mine.get(c.id);
    const b = torch ? torch.get(c.id) : NaN;
    return [c.id, `[${c.shape}]`, `${fmt(a * 1e6)} µs`, torch ? `${fmt(b * 1e6)} µs` : 'n/a', fmtRatio(b / a), torch ? (b / a >= GOAL ? 'met' : 'not met') : '-'];
  });
  printTable(['case', 'shape', 'qkernels', 'torch', 'torch / qk', `>= ${GOAL}x`], rows);
  console.log(`load average after: ${os.loadavg()[0].toFixed(2)}`);
}

main();
