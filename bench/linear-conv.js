// Bench section linear-conv: qkernels linear/conv on every ISA level of this CPU against PyTorch (onednn, qnnpack) and onnxruntime, single thread, plus the int8 peak.
//
//   node bench/linear-conv.js [--quick] [--rounds N] [--min-time S] [--clock cpu|wall] [--only a,b] [--no-torch] [--no-ort]
//                             [--no-install] [--all-peers] [--json FILE]
// See bench/README.md for what every column means.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { PEERS_DIR, CLOCKS, parseArgs, timeSync, timeAsync, median, fmt, fmtRatio, fmtPercent, Notes, printTable } = require('./lib/common');
const { THROUGHPUT_SHAPES, LATENCY_SHAPE, inputShape, prepareShapes, rngBytes, bytesPerCall, isDepthwise } = require('./lib/shapes');
const qk = require('./lib/qk');
const { TorchWorker, PYTHON, pythonProblem, pythonModuleVersion } = require('./peers/torch');
const { loadOrt, createSession } = require('./peers/ort');
const { measurePeak } = require('./peers/peak');
const { spawnSync } = require('child_process');

const USAGE = `usage: node bench/linear-conv.js [--quick] [--rounds N] [--min-time S] [--clock cpu|wall] [--only id,...] [--no-torch] [--no-ort] [--no-install] [--all-peers] [--json FILE]`;
const DATA_DIR = path.join(PEERS_DIR, 'data');
const MODEL_DIR = path.join(PEERS_DIR, 'onnx');
// Shapes whose 2-thread speed-up is measured: the large ones (at least 100 M ops per call).
const LARGE_OPS = 100e6;

const log = (line = '') => console.log(line);

/**
 * One timed engine (a column). setup(entry) resolves with { run({ minTime, clock }) -> seconds
 * per call, dispose() } or throws; errors become notes.
 */
function qkEngine(state, isa, threads = 1, { recycled = false } = {}) {
  const key = `qk:${isa}${threads === 1 ? '' : `:${threads}t`}${recycled ? ':recycled' : ''}`;
  // recycled: each output goes back to the binding with recycle() (lib/handoff.ts), so the next
  // call's output reuses its pages, as torch's allocator reuses freed blocks; the plain column
  // pays a fresh ArrayBuffer (zeroed pages, faulted in by the kernel's stores) every call.
  const call = recycled ? (module, x) => state.q.recycle(module.forward(x)) : (module, x) => module.forward(x);
  return {
    key,
    header: `qk ${isa}${threads === 1 ? '' : ` ${threads}t`}${recycled ? ' recycled' : ''}`,
    async setup(entry) {
      const prepared = state.prepared.get(entry.shape.id);
      if (prepared.error) throw new Error(prepared.notBuilt ? 'not built' : prepared.error);
      const { module, x } = prepared;
      // Every run starts with a warm-up call (the first one at a new ISA level also packs the
      // weights for it), as the Python peer's runs do, except where one call outlasts minTime.
      let last = 0;
      const run = ({ minTime, clock }) => {
        qk.select(state.q, isa, threads);
        last = timeSync(() => call(module, x), minTime, { warmUp: last === 0 || last < minTime, clock });
        return last;
      };
      return { run: async (timing) => run(timing), dispose() {} };
    },
  };
}

function torchEngine(worker, key, header, capped) {
  return {
    key,
    header,
    capped, // a handicapped variant (oneDNN capped to AVX2): never the "best peer"
    async setup(entry) {
      const reply = await worker.request({ cmd: 'setup', shape: entry.json });
      if (!reply.ok) throw new Error(reply.error);
      return {
        async run({ minTime, clock }) {
          const r = await worker.request({ cmd: 'time', minTime, clock });
          if (!r.ok) throw new Error(r.error);
          return r.seconds;
        },
        dispose: () => worker.request({ cmd: 'drop' }),
      };
    },
  };
}

function ortEngine(ort, models) {
  return {
    key: 'ort',
    header: 'onnxruntime',
    async setup(entry) {
      const model = models.get(entry.shape.id);
      if (!model || model.error) throw new Error(model ? model.error : 'no model');
      const session = await createSession(ort, model.file);
      const dims = inputShape(entry.shape);
      const x = new ort.Tensor('uint8', rngBytes(dims.reduce((a, b) => a * b, 1), 7), dims);
      const feeds = { [session.inputNames[0]]: x };
      await session.run(feeds);
      return {
        run: ({ minTime, clock }) => timeAsync(() => session.run(feeds), minTime, { clock }),
        dispose: () => session.release(),
      };
    },
  };
}

/**
 * Times every engine on one shape: set all up, then `rounds` rounds in which each engine in
 * turn runs for minTime (interleaved, so a noisy neighbour hits all engines alike); the median
 * of the rounds counts. Returns Map key -> { seconds } | { error }.
 */
async function measureShape(entry, engines, timing) {
  const results = new Map();
  const live = [];
  const setups = await Promise.all(engines.map((e) => e.setup(entry).then((h) => ({ h }), (err) => ({ err }))));
  engines.forEach((e, i) => {
    if (setups[i].err) results.set(e.key, { error: setups[i].err.message });
    else live.push({ e, h: setups[i].h, times: [] });
  });
  for (let r = 0; r < timing.rounds; r++) {
    for (const item of live) {
      if (item.error) continue;
      try {
        item.times.push(await item.h.run(timing));
      } catch (err) {
        item.error = err.message;
      }
    }
  }
  for (const item of live) {
    results.set(item.e.key, item.error ? { error: item.error } : { seconds: median(item.times), runs: item.times });
    try {
      await item.h.dispose();
    } catch {
      // a failed release does not change the timings
    }
  }
  return results;
}

/** Starts the torch workers: { engines, workers, info }, or { engines: [], error } when torch cannot run. */
async function startTorch(options, hasAvx512) {
  const problem = pythonProblem();
  if (problem) return { engines: [], error: problem };
  const version = pythonModuleVersion('torch');
  if (version.error) return { engines: [], error: version.error };
  const configs = [
    { key: 'torch:onednn', header: 'torch onednn', engine: 'onednn', env: {} },
    { key: 'torch:qnnpack', header: 'torch qnnpack', engine: 'qnnpack', env: {} },
  ];
  // oneDNN capped to AVX2 is the AVX2 path's peer; on a CPU without AVX-512 it is the plain onednn column.
  if (hasAvx512 || options['all-peers']) {
    configs.push({ key: 'torch:onednn-avx2', header: 'onednn AVX2', engine: 'onednn', env: { DNNL_MAX_CPU_ISA: 'AVX2' } });
  }
  const workers = configs.map((c) => ({ c, w: new TorchWorker(c.engine, { env: c.env }) }));
  const infos = await Promise.all(workers.map(({ w }) => w.request({ cmd: 'info' })));
  const bad = infos.find((i) => !i.ok);
  if (bad) {
    workers.forEach(({ w }) => w.close());
    return { engines: [], error: `torch peer: ${bad.error}` };
  }
  return {
    engines: workers.map(({ c, w }) => torchEngine(w, c.key, c.header, !!c.env.DNNL_MAX_CPU_ISA)),
    workers: workers.map(({ w }) => w),
    info: infos[0],
  };
}

/** Generates the ONNX models with Debian's python3-onnx; Map id -> { file } | { error }. */
function makeModels(entries) {
  const models = new Map();
  const version = pythonModuleVersion('onnx');
  if (version.error) return { error: version.error };
  fs.mkdirSync(MODEL_DIR, { recursive: true });
  const shapesFile = path.join(DATA_DIR, 'shapes.json');
  fs.writeFileSync(shapesFile, JSON.stringify(entries.map((e) => e.json), null, 1));
  const r = spawnSync(PYTHON, [path.join(__dirname, 'peers', 'make_onnx_models.py'), shapesFile, MODEL_DIR], { encoding: 'utf8' });
  if (r.status !== 0) return { error: `make_onnx_models.py failed: ${(r.stderr || '').trim().split('\n').pop()}` };
  for (const m of JSON.parse(r.stdout)) models.set(m.id, m);
  return { models, onnxVersion: version.version };
}

/**
 * A targets-table row: the smallest value of metric over entries (with its shape), and whether
 * it reaches goal; '-' when nothing was measured (a missing measurement never counts as met).
 */
function worst(target, entries, metric, goal, format) {
  let low = null;
  let missing = entries.length === 0;
  for (const e of entries) {
    const v = metric(e);
    if (!Number.isFinite(v)) missing = true;
    else if (!low || v < low.v) low = { v, label: e.shape.label };
  }
  if (!low) return [target, '-', '-'];
  return [target, `${format(low.v)} (${low.label})`, missing ? 'incomplete' : low.v >= goal ? 'yes' : 'no'];
}

function parseOptions() {
  try {
    return parseArgs(process.argv.slice(2), {
      quick: 'boolean', rounds: 'number', 'min-time': 'number', clock: 'string', only: 'string', 'no-torch': 'boolean', 'no-ort': 'boolean',
      'no-install': 'boolean', 'all-peers': 'boolean', json: 'string', help: 'boolean',
    }).options;
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    process.exit(2);
  }
}

function printPeak(peak) {
  log('int8 peak of one core (native/bench/peak-bench.cc):');
  if (peak.error) {
    log(`  unavailable: ${peak.error}`);
  } else {
    for (const p of Object.values(peak.byIsa)) {
      log(p.available ? `  ${p.isa.padEnd(11)} ${fmt(p.gops)} GOPS  (${p.loop})` : `  ${p.isa.padEnd(11)} unavailable: ${p.why}`);
    }
  }
  log();
}

/** The peers that can run here: { torch: { engines, workers, info } | { engines: [], error }, ortEngines }. */
async function startPeers(options, entries, hasAvx512) {
  let torch = { engines: [] };
  if (options['no-torch']) torch.error = 'skipped (--no-torch)';
  else torch = await startTorch(options, hasAvx512);
  if (torch.error) log(`PyTorch peer unavailable: ${torch.error}`);
  else log(`PyTorch ${torch.info.torch} (${torch.info.onednn}) via ${PYTHON}, torch.set_num_threads(1): ${torch.engines.map((e) => e.header).join(', ')}`);

  let ortEngines = [];
  if (options['no-ort']) {
    log('onnxruntime peer skipped (--no-ort)');
  } else {
    const ortLoaded = loadOrt({ allowInstall: !options['no-install'], log });
    const models = ortLoaded.error ? null : makeModels(entries);
    if (ortLoaded.error) log(`onnxruntime peer unavailable: ${ortLoaded.error}`);
    else if (models.error) log(`onnxruntime peer unavailable: ${models.error}`);
    else {
      log(`onnxruntime-node ${ortLoaded.version} (models from python3-onnx ${models.onnxVersion}; intraOpNumThreads 1, graph optimization 'all')`);
      ortEngines = [ortEngine(ortLoaded.ort, models.models)];
    }
  }
  log();
  return { torch, ortEngines };
}

/** The measured results of a run and the lookups every table uses. */
class Run {
  constructor({ levels, peak, qkEngines, peerEngines, notes }) {
    this.levels = levels;
    this.bestIsa = levels[levels.length - 1];
    this.peak = peak;
    this.engines = [...qkEngines, ...peerEngines];
    this.peerEngines = peerEngines;
    this.rivals = peerEngines.filter((e) => !e.capped); // the peers a "best peer" is chosen from
    // oneDNN capped to AVX2 when it runs, else plain onednn (the same thing on an AVX2-only CPU).
    this.avx2Peer = peerEngines.some((e) => e.key === 'torch:onednn-avx2') ? 'torch:onednn-avx2' : 'torch:onednn';
    this.notes = notes;
    this.results = new Map(); // shape id (":threads" for the thread pairs) -> Map engine key -> result
    this.speedups = new Map(); // shape id -> 2-thread speed-up
  }

  peakOf(isa) {
    const p = this.peak.byIsa && this.peak.byIsa[isa];
    return p && p.available ? p.gops : NaN;
  }

  gopsOf(entry, key) {
    const r = this.results.get(entry.shape.id)?.get(key);
    return r && !r.error ? entry.ops / r.seconds / 1e9 : NaN;
  }

  /** { g, e } of the fastest uncapped peer on the shape, or null. */
  bestPeer(entry) {
    let best = null;
    for (const e of this.rivals) {
      const g = this.gopsOf(entry, e.key);
      if (Number.isFinite(g) && (!best || g > best.g)) best = { g, e };
    }
    return best;
  }

  cell(result, value) {
    if (!result) return '-';
    if (result.error) return result.error === 'not built' ? 'n/a (not built)' : this.notes.cell(result.error);
    return value(result.seconds);
  }
}

function printThroughput(run, entries) {
  log('Throughput, GOPS (higher is better):');
  printTable(
    ['shape', 'Mop/call', ...run.engines.map((e) => e.header)],
    entries.map((entry) => {
      const r = run.results.get(entry.shape.id);
      return [entry.shape.label, fmt(entry.ops / 1e6), ...run.engines.map((e) => run.cell(r.get(e.key), (s) => fmt(entry.ops / s / 1e9)))];
    }),
  );
  log();
}

function printRatios(run, entries) {
  const hasAvx2 = run.levels.includes('avx2');
  const simdLevels = run.levels.filter((isa) => isa !== 'scalar');
  const headers = ['shape', 'best peer', `qk ${run.bestIsa}/best peer`, 'qk/onednn'];
  if (hasAvx2) headers.push(`qk avx2/${run.avx2Peer === 'torch:onednn' ? 'onednn' : 'onednn AVX2'}`);
  for (const isa of simdLevels) headers.push(`qk ${isa} % peak`);
  log(`Ratios (qkernels / peer, > 1 means qkernels is faster; "% peak" = share of that ISA's int8 peak above; qk = qk ${run.bestIsa} unless named):`);
  printTable(
    headers,
    entries.map((entry) => {
      const best = run.bestPeer(entry);
      const top = run.gopsOf(entry, `qk:${run.bestIsa}`);
      const row = [entry.shape.label, best ? best.e.header : '-', fmtRatio(best ? top / best.g : NaN), fmtRatio(top / run.gopsOf(entry, 'torch:onednn'))];
      if (hasAvx2) row.push(fmtRatio(run.gopsOf(entry, 'qk:avx2') / run.gopsOf(entry, run.avx2Peer)));
      for (const isa of simdLevels) row.push(fmtPercent(run.gopsOf(entry, `qk:${isa}`) / run.peakOf(isa)));
      return row;
    }),
  );
  log();
}

async function measureLatency(run, entry, timing) {
  process.stderr.write(`  timing ${entry.shape.label} ...\n`);
  const r = await measureShape(entry, run.engines, timing);
  run.results.set(entry.shape.id, r);
  log('Call latency of linear 1x64x64, µs per forward call (lower is better; qkernels and onnxruntime from JS, torch from Python):');
  printTable(run.engines.map((e) => e.header), [run.engines.map((e) => run.cell(r.get(e.key), (s) => fmt(s * 1e6)))]);
  log();
}

/** 2 threads against 1 on the large shapes, qkernels at the best ISA. */
async function measureThreads(run, state, large, timing) {
  if (!large.length || os.cpus().length < 2) return;
  const pair = [qkEngine(state, run.bestIsa, 1), qkEngine(state, run.bestIsa, 2)];
  const rows = [];
  for (const entry of large) {
    process.stderr.write(`  timing ${entry.shape.label} (threads) ...\n`);
    const r = await measureShape(entry, pair, { ...timing, clock: 'wall' }); // CPU time would count both threads
    run.results.set(`${entry.shape.id}:threads`, r);
    const [one, two] = pair.map((e) => r.get(e.key));
    const speedup = one && two && !one.error && !two.error ? one.seconds / two.seconds : NaN;
    if (Number.isFinite(speedup)) run.speedups.set(entry.shape.id, speedup);
    const g = (x) => run.cell(x, (s) => fmt(entry.ops / s / 1e9));
    rows.push([entry.shape.label, g(one), g(two), fmtRatio(speedup)]);
  }
  log(`Threads: qkernels ${run.bestIsa}, GOPS with 1 and 2 threads (backend.setNumThreads) and the speed-up; wall clock`);
  log(`(CPU time would count both threads), so only meaningful on an idle machine: load average now ${os.loadavg()[0].toFixed(1)}:`);
  printTable(['shape', '1 thread', '2 threads', 'speed-up'], rows);
  log();
}

/**
 * The machine's streaming bandwidth, GB/s: the best of a few copies of a 64 MiB buffer into
 * another (bytes read + bytes written per second), far larger than the caches. Depthwise convs
 * are memory-bound, so issue 12 wants their GB/s beside it.
 */
function streamingBandwidth(quick) {
  const bytes = (quick ? 8 : 64) << 20;
  const src = Buffer.alloc(bytes, 1);
  const dst = Buffer.alloc(bytes);
  let best = Infinity;
  for (let r = 0; r < (quick ? 2 : 7); r++) {
    const t0 = process.hrtime.bigint();
    src.copy(dst);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return (2 * bytes) / best / 1e9;
}

/** Depthwise convs in GB/s (the bytes they must move: input, output and weights once) beside the streaming bandwidth. */
function printDepthwise(run, entries, bandwidth) {
  const dw = entries.filter((e) => isDepthwise(e.shape));
  if (!dw.length) return;
  const best = `qk:${run.bestIsa}`;
  const gbs = (e, key) => {
    const r = run.results.get(e.shape.id)?.get(key);
    return r && !r.error ? bytesPerCall(e.shape) / r.seconds / 1e9 : NaN;
  };
  log(`Depthwise, GB/s moved (input + output + weights once per call; streaming bandwidth of this machine: ${fmt(bandwidth)} GB/s, a 64 MiB copy;`);
  log('"recycled": each output handed back with recycle(), so no fresh pages per call):');
  printTable(
    ['shape', 'KB/call', `qk ${run.bestIsa}`, 'recycled', 'best peer', 'qk / best peer', 'recycled / best peer', 'qk / streaming'],
    dw.map((e) => {
      const peer = run.bestPeer(e);
      const mine = gbs(e, best);
      const reused = gbs(e, `${best}:recycled`);
      const theirs = peer ? gbs(e, peer.e.key) : NaN;
      return [e.shape.label, fmt(bytesPerCall(e.shape) / 1e3), fmt(mine), fmt(reused), peer ? `${fmt(theirs)} (${peer.e.header})` : '-',
        fmtRatio(mine / theirs), fmtRatio(reused / theirs), fmtPercent(mine / bandwidth)];
    }),
  );
  log();
}

/** The speed goals, each with its worst case in this run: issue 12's for convolutions, issue 3's for linear. */
function printTargets(run, throughput, large) {
  const best = `qk:${run.bestIsa}`;
  const bestPeerGops = (e) => run.bestPeer(e)?.g ?? NaN;
  const torchGops = (e) => Math.max(run.gopsOf(e, 'torch:onednn'), run.gopsOf(e, 'torch:qnnpack'));
  const latency = run.results.get(LATENCY_SHAPE.id)?.get(best);
  const latencyMeasured = latency && !latency.error;
  const convs = throughput.filter((e) => e.shape.kind === 'conv');
  const isStem = (e) => e.shape.id.startsWith('stem_');
  const plain = convs.filter((e) => !isStem(e) && !isDepthwise(e.shape));
  const linears = throughput.filter((e) => e.shape.kind === 'linear');
  const ratio = (e, key) => run.gopsOf(e, best) / key(e);
  const targets = [
    worst(`conv, qk ${run.bestIsa} >= 1.05x the best peer, every shape`, plain, (e) => ratio(e, bestPeerGops), 1.05, fmtRatio),
    worst(`conv, qk ${run.bestIsa} >= 88% of its peak, large shapes`, plain.filter((e) => e.ops >= LARGE_OPS),
      (e) => run.gopsOf(e, best) / run.peakOf(run.bestIsa), 0.88, fmtPercent),
    worst(`1-D conv, qk ${run.bestIsa} >= 1.1x the best peer`, plain.filter((e) => e.shape.dims === 1), (e) => ratio(e, bestPeerGops), 1.1, fmtRatio),
  ];
  if (run.levels.includes('avx2')) {
    targets.push(worst(`conv, qk avx2 >= ${run.avx2Peer === 'torch:onednn' ? 'onednn' : 'onednn capped to AVX2'}, every shape`, convs,
      (e) => run.gopsOf(e, 'qk:avx2') / run.gopsOf(e, run.avx2Peer), 1, fmtRatio));
  }
  targets.push(
    worst('depthwise >= 2x the best peer, every shape', convs.filter((e) => isDepthwise(e.shape)), (e) => ratio(e, bestPeerGops), 2, fmtRatio),
    worst('depthwise, outputs recycled, >= 2x the best peer', convs.filter((e) => isDepthwise(e.shape)),
      (e) => run.gopsOf(e, `${best}:recycled`) / bestPeerGops(e), 2, fmtRatio),
    worst('stem convs (1-4 input channels) >= 1.5x PyTorch', convs.filter(isStem), (e) => ratio(e, torchGops), 1.5, fmtRatio),
    worst('2 threads >= 1.8x one thread, large shapes', large, (e) => run.speedups.get(e.shape.id) ?? NaN, 1.8, fmtRatio),
    worst(`linear (issue 3), qk ${run.bestIsa} >= 1.25x the best peer, large shapes`, linears.filter((e) => e.ops >= LARGE_OPS),
      (e) => ratio(e, bestPeerGops), 1.25, fmtRatio),
    worst(`linear 256x1024x1024 (issue 3) >= 80% of the ${run.bestIsa} peak`, linears.filter((e) => e.shape.id === 'linear_256x1024x1024'),
      (e) => run.gopsOf(e, best) / run.peakOf(run.bestIsa), 0.8, fmtPercent),
    ['linear 1x64x64 (issue 3) < 3 µs per call from JS', latencyMeasured ? `${fmt(latency.seconds * 1e6)} µs` : '-',
      latencyMeasured ? (latency.seconds < 3e-6 ? 'yes' : 'no') : '-'],
  );
  log(`Goals (issue 12 for conv, issue 3 for linear; set for an AVX-512 VNNI machine, here the best level is ${run.bestIsa}); worst case of this run:`);
  printTable(['target', 'worst', 'met'], targets);
  log();
}

/**
 * What the ratio goals ask of each ordinary conv in shares of the best level's measured peak: a
 * goal that needs more than about 95% of the peak (the best large GEMMs here reach 90-94%,
 * before any convolution-specific work) is the instruction limit, not a margin to find.
 */
function printPeakNeeds(run, throughput) {
  const peak = run.peakOf(run.bestIsa);
  const plain = throughput.filter((e) => e.shape.kind === 'conv' && !e.shape.id.startsWith('stem_') && !isDepthwise(e.shape));
  if (!plain.length || !Number.isFinite(peak)) return;
  log(`What the conv goals ask, as a share of the ${run.bestIsa} peak measured above (${fmt(peak)} GOPS):`);
  printTable(
    ['shape', 'best peer', 'qk', 'goal', 'goal needs'],
    plain.map((e) => {
      const best = run.bestPeer(e);
      const goal = e.shape.dims === 1 ? 1.1 : 1.05;
      const share = (g) => fmtPercent(g / peak);
      return [e.shape.label, best ? `${fmt(best.g)} (${share(best.g)})` : '-', share(run.gopsOf(e, `qk:${run.bestIsa}`)),
        `${goal}x best peer`, best ? share(goal * best.g) : '-'];
    }),
  );
  log();
}

function printLayouts(layoutNotes) {
  log('Layouts: torch gets channels-last inputs (NHWC / NDHWC; for 1-D an N-L-C buffer viewed as N-C-L); so does qkernels');
  log('unless contiguous measured faster (listed below); onnxruntime NC[D][H]W (ONNX\'s only layout; its NHWC transformer');
  log('runs inside). Weights qint8 per-tensor symmetric, the same values for every engine; onnxruntime\'s QLinearMatMul');
  log('has no bias, its ConvTranspose is the QDQ form (run in float).');
  for (const note of layoutNotes) log(`  ${note}`);
}

async function main() {
  const options = parseOptions();
  if (options.help) {
    log(USAGE);
    return;
  }
  const quick = !!options.quick;
  const timing = {
    rounds: Math.max(1, Math.round(options.rounds ?? (quick ? 1 : 5))),
    minTime: options['min-time'] ?? (quick ? 0 : 0.2),
    clock: options.clock ?? 'cpu',
  };
  if (!CLOCKS[timing.clock]) {
    console.error(`--clock must be one of ${Object.keys(CLOCKS).join(', ')}\n${USAGE}`);
    process.exit(2);
  }
  const notes = new Notes();
  const only = options.only ? options.only.split(',').map((s) => s.trim()).filter(Boolean) : null;
  const wanted = (s) => !only || only.some((o) => s.id.includes(o) || s.label.includes(o));

  log('## linear / conv: single thread unless marked, GOPS = useful int8 ops (2 per multiply-add) per second');
  log(`rounds ${timing.rounds} x at least ${timing.minTime} s (${timing.clock} clock) per engine per shape, engines interleaved, median of rounds` +
    (quick ? ' (--quick: smoke run, numbers meaningless)' : ''));
  log();

  const loaded = qk.loadQkernels();
  const q = loaded.q || null;
  if (!q) notes.ref(loaded.error);
  const levels = q ? qk.isaLevels(q) : ['scalar', process.arch === 'arm64' ? 'neon' : 'avx2']; // columns of n/a cells
  const bestIsa = levels[levels.length - 1];

  const peak = measurePeak({ minSeconds: quick ? 0.02 : 0.3, clock: timing.clock });
  printPeak(peak);

  const entries = prepareShapes([...THROUGHPUT_SHAPES.filter(wanted), ...(wanted(LATENCY_SHAPE) ? [LATENCY_SHAPE] : [])], DATA_DIR);
  const throughput = entries.filter((e) => e.shape !== LATENCY_SHAPE);
  const latencyEntry = entries.find((e) => e.shape === LATENCY_SHAPE);
  const large = throughput.filter((e) => e.ops >= LARGE_OPS);

  // qkernels' input layout per conv shape: the faster of channels-last and contiguous (probed at the best ISA).
  const state = { q, prepared: new Map() };
  if (q) qk.select(q, bestIsa, 1);
  for (const entry of entries) state.prepared.set(entry.shape.id, qk.prepare(q, entry.shape, entry.data, quick ? 0 : 0.1, timing.clock));
  const layoutNotes = [];
  for (const entry of throughput) {
    const p = state.prepared.get(entry.shape.id);
    if (p.layout && entry.shape.kind === 'conv' && p.layout !== 'channels_last' && entry.shape.layout !== 'contiguous') {
      const why = p.failures.length ? `channels-last input refused: ${p.failures.join('; ')}` : 'faster than channels-last here';
      layoutNotes.push(`qkernels ${entry.shape.label}: contiguous input (${why})`);
    }
  }

  const { torch, ortEngines } = await startPeers(options, entries, levels.includes('avx512vnni'));
  const run = new Run({ levels, peak, qkEngines: [...levels.map((isa) => qkEngine(state, isa)), qkEngine(state, bestIsa, 1, { recycled: true })], peerEngines: [...torch.engines, ...ortEngines], notes });
  try {
    for (const entry of throughput) {
      process.stderr.write(`  timing ${entry.shape.label} ...\n`);
      run.results.set(entry.shape.id, await measureShape(entry, run.engines, timing));
    }
    if (throughput.length) {
      printThroughput(run, throughput);
      printRatios(run, throughput);
    }
    if (latencyEntry) await measureLatency(run, latencyEntry, timing);
    await measureThreads(run, state, large, timing);
  } finally {
    for (const w of torch.workers || []) w.close();
    if (q) qk.select(q, bestIsa, 1);
  }
  printDepthwise(run, throughput, streamingBandwidth(quick));
  printTargets(run, throughput, large);
  printPeakNeeds(run, throughput);
  printLayouts(layoutNotes);
  if (notes.list.length) {
    log('Notes:');
    notes.print(log);
  }

  if (options.json) {
    const dump = {
      date: new Date().toISOString(),
      peak: peak.byIsa || peak,
      levels,
      shapes: entries.map((e) => ({ id: e.shape.id, label: e.shape.label, ops: e.ops })),
      results: Object.fromEntries([...run.results].map(([id, r]) => [id, Object.fromEntries(r)])),
    };
    fs.writeFileSync(options.json, JSON.stringify(dump, null, 1));
    log(`raw timings written to ${options.json}`);
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
