// Eager forward vs jit.trace's one-call plan (unfused and fused), per forward, for small nnq networks and the zoo models, 1 and 2 threads, in the same run.
// Usage: node bench/trace.js [--min-time s] [--rounds n] [--quick] [--zoo resnet18,mobilenet_v2] [--clock wall|cpu]
// (--clock cpu times the sync forwards on the process's CPU time, which leaves out waits for a
// core on a loaded machine; it is meaningful for 1 thread only, so 2-thread rows stay on wall time).
//
// Each model is traced twice per thread count (jit.trace's fusions off and on); the eager
// forward and both plans then run the same new input (batch 1) alternately, round after round,
// and the median of the rounds is printed. "unfused / fused" is the fusions' gain (doc/trace.md).
// The traced plan saves what every eager op pays around its kernel (argument checks, N-API crossings, output
// allocation, plan derivation); on large convolutions the kernels dominate and the ratio tends
// to 1. Zoo models need their fixtures (test/helpers/zoo.ts writes them: npx jest test/zoo.test.ts)
// and every op they use traceable; a model that cannot be traced prints why.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ROOT_DIR, parseArgs, timeSync, timeAsync, median, fmt, fmtRatio, Notes, printTable } = require('./lib/common');
const q = require('..');

const { options } = parseArgs(process.argv.slice(2), { 'min-time': 'number', rounds: 'number', quick: 'boolean', zoo: 'string', clock: 'string' });
const cpuClock = options.clock === 'cpu';
const minTime = options.quick ? 0.02 : options['min-time'] ?? 0.3;
const rounds = options.quick ? 1 : options.rounds ?? 5;
const zooArches = (options.zoo ?? 'resnet18,mobilenet_v2,shufflenet_v2_x0_5').split(',').filter(Boolean);

let seed = 20261205;
function floats(n, lo = -1, hi = 1) {
  return Float32Array.from({ length: n }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return lo + ((seed >>> 8) / 16777216) * (hi - lo);
  });
}

function conv(cin, cout, k, { stride = 1, groups = 1, relu = true } = {}) {
  const Cls = relu ? q.nniq.ConvReLU2d : q.nnq.Conv2d;
  const m = new Cls(cin, cout, k, { stride, groups, padding: Math.floor(k / 2) });
  const w = q.quantizePerChannel(q.tensor(floats(cout * (cin / groups) * k * k), [cout, cin / groups, k, k]), new Array(cout).fill(0.01), new Array(cout).fill(0), 0, 'qint8');
  m.setWeightBias(w, q.tensor(floats(cout), [cout]));
  m.scale = 0.05;
  m.zeroPoint = 64;
  return m;
}

const quint8 = (shape) => q.quantizePerTensor(q.tensor(floats(shape.reduce((a, b) => a * b, 1), -2, 2), shape), 0.02, 110, 'quint8');

/** resnet's BasicBlock (no downsample): conv-relu, conv, add_relu with the block's input. */
class BasicBlock extends q.nn.Module {
  constructor(channels) {
    super();
    this.conv1 = conv(channels, channels, 3);
    this.conv2 = conv(channels, channels, 3, { relu: false });
    this.skip = new q.nnq.QFunctional();
    this.skip.scale = 0.06;
    this.skip.zeroPoint = 64;
  }
  forward(x) {
    return this.skip.addRelu(this.conv2.forward(this.conv1.forward(x)), x);
  }
}

/** Small networks of nnq modules (ops the tracer records today); input factory per model. */
function smallModels() {
  const { nn } = q;
  return [
    {
      name: "resnet18's layer1: 2 blocks 64ch 56x56",
      model: new nn.Sequential(new BasicBlock(64), new BasicBlock(64)),
      input: () => quint8([1, 64, 56, 56]).contiguous('channels_last'),
    },
    {
      name: 'tiny: 8 convs 8ch 8x8 + pools',
      model: new nn.Sequential(conv(4, 8, 3), ...Array.from({ length: 6 }, () => conv(8, 8, 3)), new nn.MaxPool2d(2), conv(8, 8, 1), new nn.AdaptiveAvgPool2d([1, 1]), new nn.Flatten()),
      input: () => quint8([1, 4, 8, 8]),
    },
    {
      name: 'mobile-ish: 12 convs 32ch 56x56 (dw+pw)',
      model: new nn.Sequential(
        conv(3, 32, 3, { stride: 2 }),
        ...Array.from({ length: 5 }, () => [conv(32, 32, 3, { groups: 32 }), conv(32, 32, 1)]).flat(),
        conv(32, 64, 1),
        new nn.AdaptiveAvgPool2d([1, 1]),
      ),
      input: () => quint8([1, 3, 112, 112]),
    },
  ];
}

function zooCacheDir() {
  if (process.env.QKERNELS_ZOO_CACHE) return process.env.QKERNELS_ZOO_CACHE;
  const hash = crypto.createHash('sha256').update(fs.readFileSync(path.join(ROOT_DIR, 'scripts', 'zoo', 'make_zoo.py'))).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `qkernels-zoo-${hash}`);
}

function zooModels(notes) {
  const dir = zooCacheDir();
  const out = [];
  for (const arch of zooArches) {
    const stem = path.join(dir, arch);
    if (!fs.existsSync(`${stem}.pth`)) {
      out.push({ name: `${arch} (zoo)`, error: notes.cell(`no fixture ${stem}.pth (run the zoo tests once to make it)`) });
      continue;
    }
    const meta = JSON.parse(fs.readFileSync(`${stem}.json`, 'utf8'));
    const model = q.models.architectures[arch]();
    model.loadStateDict(q.load(`${stem}.pth`));
    const shape = [1, ...meta.inputShape.slice(1)];
    out.push({ name: `${arch} (zoo) ${shape.slice(2).join('x')}`, model, input: () => q.tensor(floats(shape.reduce((a, b) => a * b, 1), -2, 2), shape) });
  }
  return out;
}

async function measure(entry, threads, notes) {
  q.backend.setNumThreads(threads);
  let traced, unfused;
  try {
    unfused = q.jit.trace(entry.model, entry.input(), { fuse: false });
    traced = q.jit.trace(entry.model, entry.input());
  } catch (e) {
    return [entry.name, String(threads), '-', '-', '-', '-', '-', '-', '-', notes.cell(e.message.split('\n')[0])];
  }
  const x = entry.input();
  const eager = [];
  const plain = [];
  const plan = [];
  const planAsync = [];
  const clock = cpuClock && threads === 1 ? 'cpu' : 'wall';
  for (let r = 0; r < rounds; r++) {
    eager.push(timeSync(() => entry.model.forward(x), minTime, { clock }) * 1e6);
    plain.push(timeSync(() => unfused.forward(x), minTime, { clock }) * 1e6);
    plan.push(timeSync(() => traced.forward(x), minTime, { clock }) * 1e6);
    planAsync.push((await timeAsync(() => traced.forwardAsync(x), minTime)) * 1e6);
  }
  const steps = unfused.fusion.unfusedSteps;
  const e = median(eager);
  const u = median(plain);
  const t = median(plan);
  const kib = (b) => (b / 1024).toFixed(0);
  const f = traced.fusion;
  const memory = `${kib(f.unfusedArenaBytes)} -> ${kib(traced.arenaBytes)} / ${kib(f.unfusedIntermediateBytes)} -> ${kib(traced.intermediateBytes)}`;
  traced.dispose();
  unfused.dispose();
  return [entry.name, String(threads), `${steps} -> ${steps - f.convAdd}`, fmt(e), fmt(u), fmt(t), fmt(median(planAsync)), fmtRatio(e / t), fmtRatio(u / t), memory];
}

function cpuModel() {
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => /^model name\s*:/.test(l));
    if (line) return line.split(':')[1].trim();
  } catch {
    // not Linux
  }
  return (os.cpus()[0] || {}).model || 'unknown';
}

async function main() {
  const notes = new Notes();
  const info = q.backend.info();
  const cpu = cpuModel();
  // Zen 4 is the first AMD core with AVX-512 (VNNI): an EPYC that runs avx512vnni is one.
  const zen = /AMD EPYC/.test(cpu) && info.bestIsa === 'avx512vnni' ? ' (Zen 4)' : '';
  console.log(`\njit.trace vs eager forward, batch 1 (CPU: ${cpu}${zen}; isa ${info.isa}; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`);
  console.log(`median of ${rounds} rounds of >= ${minTime}s each; eager and traced alternate in the same run; sync columns on ${cpuClock ? 'CPU time (1 thread), wall time (2 threads)' : 'wall time'}, async on wall time`);
  const entries = [...smallModels(), ...zooModels(notes)];
  const rows = [];
  const saved = q.backend.getNumThreads();
  for (const entry of entries) {
    for (const threads of [1, 2]) {
      if (entry.error) {
        rows.push([entry.name, String(threads), '-', '-', '-', '-', '-', '-', '-', entry.error]);
        continue;
      }
      rows.push(await measure(entry, threads, notes));
    }
  }
  q.backend.setNumThreads(saved);
  printTable(['model', 'threads', 'steps (fused)', 'eager us', 'unfused us', 'fused us', 'fused async us', 'eager / fused', 'unfused / fused', 'arena / intermediates KiB (unfused -> fused)'], rows);
  notes.print();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
