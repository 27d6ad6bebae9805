// Eager forward vs jit.trace's one-call plan (unfused and fused), per forward, for small nnq networks and the zoo models beside PyTorch, 1 and 2 threads, in the same run.
// Usage: node bench/trace.js [--min-time s] [--rounds n] [--quick] [--zoo resnet18,mobilenet_v2] [--sides 224,96] [--no-torch] [--clock wall|cpu]
// (--clock cpu times qkernels' sync forwards on the process's CPU time, which leaves out waits for a
// core on a loaded machine; it is meaningful for 1 thread only, so 2-thread rows stay on wall time,
// and PyTorch is always timed on wall time: compare with torch on --clock wall).
//
// Each model is traced twice per thread count (jit.trace's fusions off and on); the eager
// forward and both plans then run the same new input (batch 1) alternately, round after round,
// and the median of the rounds is printed. "unfused / fused" is the fusions' gain (doc/trace.md).
// The traced plan saves what every eager op pays around its kernel (argument checks, N-API crossings, output
// allocation, plan derivation); on large convolutions the kernels dominate and the ratio tends
// to 1. Zoo models need their fixtures (test/helpers/zoo.ts writes them: npx jest test/zoo.test.ts)
// and every op they use traceable; a model that cannot be traced prints why. Zoo models run at each
// --sides input size (they are fully convolutional) and beside PyTorch (Debian's torch 1.13,
// bench/peers/torch_models.py: the same fixture as an eager torchvision model and as make_zoo's
// TorchScript archive, under the engine the fixture was converted with, one worker per thread
// count), its rounds interleaved with qkernels' rounds; the faster of torch's two forms is the peer.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ROOT_DIR, parseArgs, timeSync, timeAsync, median, fmt, fmtRatio, Notes, printTable } = require('./lib/common');
const q = require('..');
const { TorchWorker, pythonProblem } = require('./peers/torch');

const { options } = parseArgs(process.argv.slice(2), { 'min-time': 'number', rounds: 'number', quick: 'boolean', zoo: 'string', sides: 'string', 'no-torch': 'boolean', clock: 'string' });
const cpuClock = options.clock === 'cpu';
const minTime = options.quick ? 0.02 : options['min-time'] ?? 0.3;
const rounds = options.quick ? 1 : options.rounds ?? 5;
const zooArches = (options.zoo ?? 'resnet18,mobilenet_v2,shufflenet_v2_x0_5').split(',').filter(Boolean);
const zooSides = (options.sides ?? '224,96').split(',').filter(Boolean).map(Number);
if (zooSides.some((s) => !Number.isInteger(s) || s < 32)) throw new Error(`--sides takes input sizes >= 32, got ${options.sides}`);

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
    for (const side of zooSides) {
      const shape = [1, 3, side, side];
      out.push({ name: `${arch} ${side}x${side}`, model, arch, stem, side, engine: meta.engine, input: () => q.tensor(floats(shape.reduce((a, b) => a * b, 1), -2, 2), shape) });
    }
  }
  return out;
}

/** One PyTorch worker per thread count (lazily), or an error string for every torch cell. */
class TorchPeers {
  constructor(notes) {
    this.notes = notes;
    this.workers = new Map();
    this.loaded = new Set();
    this.problem = options['no-torch'] ? '--no-torch' : pythonProblem();
  }

  /** Seconds per call of the faster of torch's eager and TorchScript forms, or { error }. */
  async time(entry, threads) {
    if (this.problem) return { error: this.problem };
    const key = `${entry.engine}/${threads}`;
    if (!this.workers.has(key)) this.workers.set(key, new TorchWorker(entry.engine, { threads, script: path.join(__dirname, 'peers', 'torch_models.py') }));
    const worker = this.workers.get(key);
    if (!this.loaded.has(`${key}/${entry.arch}`)) {
      const r = await worker.request({ cmd: 'load', arch: entry.arch, stem: entry.stem });
      if (!r.ok) return { error: r.error };
      this.loaded.add(`${key}/${entry.arch}`);
    }
    const r = await worker.request({ cmd: 'time', arch: entry.arch, side: entry.side, minTime });
    if (!r.ok) return { error: r.error };
    return { seconds: Math.min(r.eager, r.script), form: r.eager <= r.script ? 'eager' : 'script' };
  }

  close() {
    for (const w of this.workers.values()) w.close();
  }
}

async function measure(entry, threads, notes, torch) {
  q.backend.setNumThreads(threads);
  const savedEngine = q.backend.quantizedEngine();
  // Zoo fixtures run under the engine they were converted with, on both sides.
  if (entry.engine) q.backend.setQuantizedEngine(entry.engine);
  try {
    return await measureWith(entry, threads, notes, torch);
  } finally {
    q.backend.setQuantizedEngine(savedEngine);
  }
}

async function measureWith(entry, threads, notes, torch) {
  let traced, unfused;
  try {
    unfused = q.jit.trace(entry.model, entry.input(), { fuse: false });
    traced = q.jit.trace(entry.model, entry.input());
  } catch (e) {
    return [entry.name, String(threads), '-', '-', '-', '-', '-', '-', '-', '-', '-', notes.cell(e.message.split('\n')[0])];
  }
  const x = entry.input();
  const eager = [];
  const plain = [];
  const plan = [];
  const planAsync = [];
  const peer = [];
  let peerForm = '';
  let peerError = null;
  const clock = cpuClock && threads === 1 ? 'cpu' : 'wall';
  for (let r = 0; r < rounds; r++) {
    eager.push(timeSync(() => entry.model.forward(x), minTime, { clock }) * 1e6);
    plain.push(timeSync(() => unfused.forward(x), minTime, { clock }) * 1e6);
    plan.push(timeSync(() => traced.forward(x), minTime, { clock }) * 1e6);
    planAsync.push((await timeAsync(() => traced.forwardAsync(x), minTime)) * 1e6);
    if (entry.arch && !peerError) {
      const t = await torch.time(entry, threads);
      if (t.error) peerError = t.error;
      else {
        peer.push(t.seconds * 1e6);
        peerForm = t.form;
      }
    }
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
  let torchCell = '-';
  let torchRatio = '-';
  if (peerError) torchCell = notes.cell(peerError.split('\n')[0]);
  else if (peer.length) {
    torchCell = `${fmt(median(peer))} (${peerForm})`;
    torchRatio = fmtRatio(median(peer) / t);
  }
  return [entry.name, String(threads), `${steps} -> ${steps - f.convAdd}`, fmt(e), fmt(u), fmt(t), fmt(median(planAsync)), torchCell, torchRatio, fmtRatio(e / t), fmtRatio(u / t), memory];
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
  const torch = new TorchPeers(notes);
  try {
    for (const entry of entries) {
      for (const threads of [1, 2]) {
        if (entry.error) {
          rows.push([entry.name, String(threads), '-', '-', '-', '-', '-', '-', '-', '-', '-', entry.error]);
          continue;
        }
        rows.push(await measure(entry, threads, notes, torch));
      }
    }
  } finally {
    torch.close();
    q.backend.setNumThreads(saved);
  }
  console.log(`load average at the end ${os.loadavg()[0].toFixed(1)}`);
  printTable(['model', 'threads', 'steps (fused)', 'eager us', 'unfused us', 'fused us', 'fused async us', 'torch us (best form)', 'torch / fused', 'eager / fused', 'unfused / fused', 'arena / intermediates KiB (unfused -> fused)'], rows);
  notes.print();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
