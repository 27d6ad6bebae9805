// Coverage-guided fuzzer of the weights loader (lib/io via dist/): V8 block coverage steers mutations; every input must load (and inspect) or throw a LoadError.
//
// Jazzer.js cannot be used here (doc/reliability.md says why), so this is a small libFuzzer
// in JS: V8's precise block coverage of dist/io and dist/cli (inspector Profiler) is the
// feedback; an input that reaches a block, or a block count bucket, not seen before joins
// the corpus; mutations are libFuzzer's usual ones (bit flips, interesting integers, erase,
// insert, copy, splice with another corpus entry) plus pickle-opcode and Python-token
// insertions. The first byte of an input picks what the rest is, so mutations reach every layer:
//   0  a whole file (zip reader, then everything below it);
//   1  the data.pkl of a torch.save archive whose storages data/0..data/7 exist (unpickler,
//      torch's reduce/persistent-load rules, tensor rebuilding);
//   2  TorchScript: code/__torch__.py text, a 0 byte, then data.pkl (the code parser and
//      the scripted-module state dict).
//
//   node test/fuzz/load-fuzz.js --seeds DIR [--seconds S] [--seed N] [--corpus OUT]
// DIR holds torch-written .pt files (made by the oracle's io_fixtures when DIR is missing).
// The run is a child process, watched: an input that throws anything but a LoadError, kills
// the process or runs over 10 s is written to OUT/finding-* and fails the run. Replay one:
//   node test/fuzz/load-fuzz.js --replay FILE
// Ends with `load-fuzz: N executions, S seeds, C corpus, F features, K findings, T s`.
//
// The long run (--runs N): coverage feedback costs a V8 coverage snapshot per execution
// (about 200 executions/s), so 10^7 executions are run without it, as seeded mutations of a
// fixed pool (the seeds plus the corpus a guided run kept, --from DIR), split over --workers
// child processes. Execution i mutates with its own generator seeded by (seed, i), so any one
// is replayed alone (--replay-index i); a worker that dies or hangs is run again from its last
// checkpoint writing the index before each input, which finds the exact one, and then goes on:
//   node test/fuzz/load-fuzz.js --seeds DIR --from CORPUS --runs 10000000 --workers 2 --seed 4
//   node test/fuzz/load-fuzz.js --seeds DIR --from CORPUS --seed 4 --replay-index I
// Ends with `load-fuzz --runs: N executions, W workers, P pool, K findings, T s, R exec/s`.
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

const { makeRng } = require('./api-fuzz');

const root = path.join(__dirname, '..', '..');

/** A zip of stored entries: just what the loader reads (no alignment, no zip64). */
function storedZip(entries) {
  const parts = [];
  const central = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name);
    // CRC, sizes and name length: the same run of fields in both headers, 2 bytes further on in the central one.
    const common = (buffer, at) => {
      buffer.writeUInt32LE(zlib.crc32(data), at);
      buffer.writeUInt32LE(data.length, at + 4);
      buffer.writeUInt32LE(data.length, at + 8);
      buffer.writeUInt16LE(nameBytes.length, at + 12);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    common(local, 14);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(20, 6);
    common(header, 16);
    header.writeUInt32LE(offset, 42);
    parts.push(local, nameBytes, data);
    central.push(header, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end]);
}

// Storages for mode 1 and 2: 8 keys of 256 bytes each, enough for small tensors of any dtype.
const STORAGES = Array.from({ length: 8 }, (_, key) => [`archive/data/${key}`, Buffer.alloc(256, key * 17 + 1)]);
const EMPTY_TUPLE_PICKLE = Buffer.from([0x80, 0x02, 0x29, 0x2e]);

/** The file an input stands for (see the modes above). */
function archiveOf(input) {
  const mode = input.length === 0 ? 0 : input[0] % 3;
  const rest = Buffer.from(input.subarray(1));
  if (mode === 0) return rest;
  if (mode === 1) return storedZip([['archive/data.pkl', rest], ...STORAGES, ['archive/version', Buffer.from('3\n')]]);
  const split = rest.indexOf(0);
  const code = split < 0 ? rest : rest.subarray(0, split);
  const pickle = split < 0 ? Buffer.alloc(0) : rest.subarray(split + 1);
  return storedZip([['archive/data.pkl', pickle], ['archive/code/__torch__.py', code], ...STORAGES, ['archive/constants.pkl', EMPTY_TUPLE_PICKLE]]);
}

/** One execution: anything but a LoadError escaping load() (or inspecting what it loaded) is thrown on. */
function execute(input) {
  const { load, LoadError } = require(root);
  const { inspectRows } = require(path.join(root, 'dist', 'cli', 'inspect'));
  let stateDict;
  try {
    stateDict = load(archiveOf(input));
  } catch (error) {
    if (error instanceof LoadError) return;
    throw error;
  }
  inspectRows(stateDict);
}

/** Seed inputs: each torch-written file in all the modes it fits. */
function seedInputs(dir) {
  const { ZipArchive } = require(path.join(root, 'dist', 'io', 'zip'));
  const seeds = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.pt')).sort()) {
    const bytes = fs.readFileSync(path.join(dir, file));
    seeds.push(Buffer.concat([Buffer.from([0]), bytes]));
    let archive;
    try {
      archive = new ZipArchive(bytes, file);
    } catch {
      continue;  // a legacy (non-zip) file: mode 0 only
    }
    const names = Array.from(archive.entries.keys());
    const pickle = names.find((n) => n.endsWith('/data.pkl'));
    if (pickle === undefined) continue;
    seeds.push(Buffer.concat([Buffer.from([1]), archive.read(pickle)]));
    for (const code of names.filter((n) => n.includes('/code/') && n.endsWith('.py'))) {
      seeds.push(Buffer.concat([Buffer.from([2]), archive.read(code), Buffer.from([0]), archive.read(pickle)]));
    }
  }
  return seeds;
}

const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, -1, -2];
// Pickle opcodes torch files use, and a few that they do not.
const OPCODES = [0x80, 0x2e, 0x28, 0x29, 0x5d, 0x7d, 0x71, 0x72, 0x68, 0x6a, 0x4b, 0x4d, 0x4a, 0x8a, 0x58, 0x8c, 0x63, 0x52, 0x62, 0x51, 0x74, 0x85, 0x86, 0x87, 0x65, 0x75, 0x73, 0x4e, 0x88, 0x89, 0x47, 0x30, 0x31, 0x32, 0x94, 0x95, 0x93, 0x81, 0x69];
const TOKENS = ['class ', 'def ', '__torch__.', 'torch.', ': Tensor', ' -> ', '\n  ', 'Optional[', 'List[', 'Tuple[', 'Dict[str, ', ']', '(', ')', ',', '"', "'", '#', ' = ', '__parameters__', '__buffers__', 'training', 'NoneType', 'int', 'float', 'bool', 'str', '__annotations__', '\\', '\t', '\r\n'];

/** A libFuzzer-style mutation of `input` (the mode byte is mutated too, rarely). */
function mutate(rng, input, corpus) {
  let bytes = Buffer.from(input);
  const at = (extra = 0) => rng.int(Math.min(1, bytes.length), Math.max(Math.min(1, bytes.length), bytes.length - 1 + extra));
  const rounds = rng.int(1, 4);
  for (let r = 0; r < rounds; r++) {
    const kind = rng.int(0, 9);
    if (bytes.length <= 1 && kind < 7) {
      bytes = Buffer.concat([bytes, Buffer.from([rng.int(0, 255)])]);
      continue;
    }
    if (kind === 0) {
      const i = at();
      bytes[i] ^= 1 << rng.int(0, 7);
    } else if (kind === 1) {
      bytes[at()] = rng.int(0, 255);
    } else if (kind === 2) {
      const width = rng.pick([1, 2, 4, 8]);
      const i = at();
      if (i + width <= bytes.length) {
        const v = BigInt.asUintN(64, BigInt(rng.pick(INTERESTING)));
        for (let k = 0; k < width; k++) bytes[i + k] = Number((v >> BigInt(8 * k)) & 0xffn);
      }
    } else if (kind === 3) {
      const i = at();
      const n = rng.int(1, Math.min(64, bytes.length - i));
      bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + n)]);
    } else if (kind === 4) {
      const from = at();
      const n = rng.int(1, Math.min(64, bytes.length - from));
      const to = at(1);
      bytes = Buffer.concat([bytes.subarray(0, to), Buffer.from(bytes.subarray(from, from + n)), bytes.subarray(to)]);
    } else if (kind === 5) {
      const i = at(1);
      bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([rng.pick(OPCODES)]), bytes.subarray(i)]);
    } else if (kind === 6) {
      const i = at(1);
      bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from(rng.pick(TOKENS)), bytes.subarray(i)]);
    } else if (kind === 7) {
      // Splice: our head, another entry's tail (same mode byte kept).
      const other = rng.pick(corpus);
      const cut = at(1);
      const from = rng.int(Math.min(1, other.length), other.length);
      bytes = Buffer.concat([bytes.subarray(0, cut), other.subarray(from)]);
    } else if (kind === 8) {
      bytes = bytes.subarray(0, at(1));
    } else if (rng.next() < 0.05 && bytes.length > 0) {
      bytes[0] = rng.int(0, 2);
    }
  }
  return bytes.length > 1 << 20 ? bytes.subarray(0, 1 << 20) : bytes;
}

/** The loop, in the child: run, measure coverage, keep what is new, until the time is up. */
function runChild(options) {
  const inspector = require('inspector');
  const session = new inspector.Session();
  session.connect();
  const post = (method, params) => {
    let result;
    session.post(method, params, (error, value) => {
      if (error) throw error;
      result = value;
    });
    return result;
  };
  post('Profiler.enable');
  post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  const features = new Set();
  const watched = (url) => url.includes('/dist/io/') || url.includes('/dist/cli/inspect');
  const newFeatures = () => {
    let added = 0;
    for (const script of post('Profiler.takePreciseCoverage').result) {
      if (!watched(script.url)) continue;
      const file = path.basename(script.url);
      for (const fn of script.functions) {
        for (const range of fn.ranges) {
          // Reached or not, and libFuzzer-like count buckets.
          const bucket = range.count === 0 ? 0 : Math.min(8, 1 + Math.floor(Math.log2(range.count)));
          const key = `${file}:${range.startOffset}:${range.endOffset}:${bucket}`;
          if (!features.has(key)) {
            features.add(key);
            added++;
          }
        }
      }
    }
    return added;
  };
  const rng = makeRng(options.seed);
  const current = path.join(options.out, 'current-input');
  const corpus = [];
  const findings = [];
  const tryInput = (input) => {
    fs.writeFileSync(current, input);  // what the parent saves if this execution kills the process
    try {
      execute(input);
    } catch (error) {
      const file = path.join(options.out, `finding-${findings.length}`);
      fs.writeFileSync(file, input);
      findings.push(`${file}: ${error && error.constructor ? error.constructor.name : typeof error}: ${error && error.message}`);
      console.log(`finding: ${findings[findings.length - 1]}`);
    }
    return newFeatures();
  };
  newFeatures();
  for (const seed of seedInputs(options.seeds)) {
    tryInput(seed);
    corpus.push(seed);
  }
  const seeds = corpus.length;
  const started = Date.now();
  let executions = 0;
  while (Date.now() - started < options.seconds * 1000 && findings.length < 20) {
    const input = mutate(rng, rng.pick(corpus), corpus);
    executions++;
    if (tryInput(input) > 0) {
      corpus.push(input);
      if (options.corpus) fs.writeFileSync(path.join(options.corpus, `input-${corpus.length}`), input);
    }
  }
  fs.rmSync(current, { force: true });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`load-fuzz: ${executions} executions, ${seeds} seeds, ${corpus.length} corpus, ${features.size} features, ${findings.length} findings, ${seconds} s`);
  process.exitCode = findings.length > 0 ? 1 : 0;
}

/** Execution `index`'s own generator seed: a hash of (seed, index), never 0. */
function executionSeed(seed, index) {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((index >>> 0) + 1, 0x85ebca6b) ^ Math.imul(Math.floor(index / 2 ** 32) + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) || 1;
}

/** The mutation pool of a --runs run: the seeds, then a guided run's corpus (input-* files, by name). */
function inputPool(options) {
  const pool = seedInputs(options.seeds);
  if (options.from) {
    for (const file of fs.readdirSync(options.from).filter((f) => f.startsWith('input-')).sort()) pool.push(fs.readFileSync(path.join(options.from, file)));
  }
  return pool;
}

/** Execution `index` of a --runs run: a pure function of (seed, index, pool). */
function indexedInput(seed, index, pool) {
  const rng = makeRng(executionSeed(seed, index));
  return mutate(rng, rng.pick(pool), pool);
}

/**
 * A --runs worker (child process): executions [first, end). It writes the index it is at into
 * `progress` (the first 16 bytes, in place): before every input with --trace, otherwise every
 * quarter second, which is what the parent's watchdog and crash bisection read.
 */
function runFastChild(options) {
  const pool = inputPool(options);
  const fd = fs.openSync(options.progress, 'w');
  const mark = (index) => fs.writeSync(fd, String(index).padEnd(16), 0);
  const findings = [];
  let last = Date.now();
  let executions = 0;
  mark(options.first);
  for (let index = options.first; index < options.end && findings.length < 20; index++) {
    if (options.trace) mark(index);
    else if ((index & 255) === 0 && Date.now() - last >= 250) {
      mark(index);
      last = Date.now();
    }
    const input = indexedInput(options.seed, index, pool);
    if (index === options.plantCrash) process.abort();  // the harness's self-test: a death it must pin down
    executions++;
    try {
      execute(input);
    } catch (error) {
      const file = path.join(options.out, `finding-${options.seed}-${index}`);
      fs.writeFileSync(file, input);
      findings.push(file);
      console.log(`finding: ${file} (--replay-index ${index}): ${error && error.constructor ? error.constructor.name : typeof error}: ${error && error.message}`);
    }
  }
  mark(options.end);
  fs.closeSync(fd);
  console.log(`load-fuzz-worker: ${executions} executions, ${findings.length} findings`);
  process.exitCode = findings.length > 0 ? 1 : 0;
}

/** A hang: `progress()` (what the child last wrote) unchanged for 10 s kills the child. Returns the interval to clear. */
function watch(child, progress) {
  let seen = progress();
  let lastChange = Date.now();
  return setInterval(() => {
    const now = progress();
    if (now !== seen) {
      seen = now;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > 10000) {
      child.kill('SIGKILL');
    }
  }, 1000);
}

/** Runs one worker child over [first, end), watched; resolves with its exit and the index it last wrote. */
function watchedChild(options, worker, first, end, trace) {
  const progress = path.join(options.out, `progress-${worker}`);
  fs.writeFileSync(progress, '');
  const args = [__filename, '--fast-child', '--seeds', options.seeds, '--seed', String(options.seed), '--out', options.out,
    '--first', String(first), '--end', String(end), '--progress', progress];
  if (options.from) args.push('--from', options.from);
  if (trace) args.push('--trace');
  if (options.plantCrash !== null) args.push('--plant-crash', String(options.plantCrash));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let executions = 0;
  let findings = 0;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text) => {
    for (const line of text.split('\n')) {
      const done = /^load-fuzz-worker: (\d+) executions, (\d+) findings/.exec(line);
      if (done) [executions, findings] = [Number(done[1]), Number(done[2])];
      else if (line !== '') console.log(line);
    }
  });
  const read = () => {
    const text = fs.readFileSync(progress, 'utf8').trim();
    return text === '' ? first : Number(text);
  };
  const watchdog = watch(child, read);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(watchdog);
      resolve({ code, signal, at: read(), executions, findings });
    });
  });
}

/** One worker's share [first, end): a death or hang is pinned to its input by a traced rerun, then the rest runs. */
async function fastWorker(options, worker, first, end) {
  let from = first;
  let executions = 0;
  let findings = 0;
  while (from < end) {
    const run = await watchedChild(options, worker, from, end, false);
    findings += run.findings;
    if (run.signal === null && (run.code === 0 || run.code === 1)) {
      executions += run.executions;
      break;
    }
    // Died or hung somewhere in [checkpoint, end): rerun from the checkpoint writing every index.
    const traced = await watchedChild(options, worker, run.at, end, true);
    findings += traced.findings;
    executions += run.at - from;
    if (traced.signal === null && (traced.code === 0 || traced.code === 1)) {
      console.log(`load-fuzz: worker ${worker} died (${run.signal ?? `exit ${run.code}`}) after index ${run.at} but its traced rerun did not: not reproduced`);
      executions += traced.executions;
      findings++;
      break;
    }
    const file = path.join(options.out, `finding-crash-or-hang-${options.seed}-${traced.at}`);
    fs.writeFileSync(file, indexedInput(options.seed, traced.at, inputPool(options)));
    console.log(`finding: ${file} (--replay-index ${traced.at}): the process died or hung (${traced.signal ?? `exit ${traced.code}`})`);
    findings++;
    executions += traced.at - run.at + 1;
    from = traced.at + 1;
  }
  return { executions, findings };
}

async function runFast(options) {
  const started = Date.now();
  const pool = inputPool(options).length;
  const share = Math.ceil(options.runs / options.workers);
  const results = await Promise.all(Array.from({ length: options.workers }, (_, w) => fastWorker(options, w, w * share, Math.min(options.runs, (w + 1) * share))));
  const executions = results.reduce((a, r) => a + r.executions, 0);
  const findings = results.reduce((a, r) => a + r.findings, 0);
  const seconds = (Date.now() - started) / 1000;
  console.log(`load-fuzz --runs: ${executions} executions, ${options.workers} workers, ${pool} pool, ${findings} findings, ${seconds.toFixed(1)} s, ${Math.round(executions / seconds)} exec/s`);
  process.exitCode = findings > 0 ? 1 : 0;
}

function parseArgs(argv) {
  const options = { seeds: null, seconds: 60, seed: 1, corpus: null, out: null, child: false, replay: null, runs: 0, workers: 2, from: null,
    fastChild: false, first: 0, end: 0, progress: null, trace: false, replayIndex: null, plantCrash: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seeds') options.seeds = argv[++i];
    else if (a === '--seconds') options.seconds = Number(argv[++i]);
    else if (a === '--seed') options.seed = Number(argv[++i]);
    else if (a === '--corpus') options.corpus = argv[++i];
    else if (a === '--out') options.out = argv[++i];
    else if (a === '--child') options.child = true;
    else if (a === '--replay') options.replay = argv[++i];
    else if (a === '--runs') options.runs = Number(argv[++i]);
    else if (a === '--workers') options.workers = Number(argv[++i]);
    else if (a === '--from') options.from = argv[++i];
    else if (a === '--fast-child') options.fastChild = true;
    else if (a === '--first') options.first = Number(argv[++i]);
    else if (a === '--end') options.end = Number(argv[++i]);
    else if (a === '--progress') options.progress = argv[++i];
    else if (a === '--trace') options.trace = true;
    else if (a === '--replay-index') options.replayIndex = Number(argv[++i]);
    else if (a === '--plant-crash') options.plantCrash = Number(argv[++i]);
    else throw new Error(`load-fuzz: unknown argument ${a}`);
  }
  return options;
}

/** Torch-written seed files, from the oracle (Debian's torch) when the directory is missing. */
function ensureSeeds(dir) {
  if (fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.pt'))) return;
  fs.mkdirSync(dir, { recursive: true });
  const python = process.env.QKERNELS_ORACLE_PYTHON || '/usr/bin/python3';
  const input = JSON.stringify({ engine: 'onednn', cases: [{ op: 'io_fixtures', dir }] });
  const result = spawnSync(python, [path.join(root, 'test', 'oracle', 'oracle.py')], { input, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' }, maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`load-fuzz: the oracle could not write seed files into ${dir}: ${result.stderr || result.error}`);
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.replay) {
    execute(fs.readFileSync(options.replay));
    console.log('load-fuzz: replay loaded or threw a LoadError');
    return;
  }
  if (options.child) {
    runChild(options);
    return;
  }
  if (options.fastChild) {
    runFastChild(options);
    return;
  }
  if (!options.seeds) throw new Error('load-fuzz: --seeds DIR is required');
  ensureSeeds(options.seeds);
  if (options.replayIndex !== null) {
    execute(indexedInput(options.seed, options.replayIndex, inputPool(options)));
    console.log(`load-fuzz: execution ${options.replayIndex} of seed ${options.seed} loaded or threw a LoadError`);
    return;
  }
  options.out = options.corpus || fs.mkdtempSync(path.join(os.tmpdir(), 'qkernels-load-fuzz-'));
  fs.mkdirSync(options.out, { recursive: true });
  if (options.runs > 0) {
    if (!Number.isSafeInteger(options.runs) || !Number.isInteger(options.workers) || options.workers < 1) throw new Error('load-fuzz: --runs and --workers take positive integers');
    runFast(options);
    return;
  }
  const args = [__filename, '--child', '--seeds', options.seeds, '--seconds', String(options.seconds), '--seed', String(options.seed), '--out', options.out];
  if (options.corpus) args.push('--corpus', options.corpus);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  // A hang: the child stops writing current-input for 10 s.
  const current = path.join(options.out, 'current-input');
  const watchdog = watch(child, () => (fs.existsSync(current) ? fs.statSync(current).mtimeMs : 0));
  child.on('exit', (code, signal) => {
    clearInterval(watchdog);
    if (signal !== null || (code !== 0 && code !== 1)) {
      const saved = path.join(options.out, 'finding-crash-or-hang');
      if (fs.existsSync(current)) fs.copyFileSync(current, saved);
      console.log(`load-fuzz: the child died (${signal ?? `exit ${code}`}); its last input is ${saved}`);
      process.exitCode = 2;
      return;
    }
    process.exitCode = code;
  });
}

module.exports = { archiveOf, execute, indexedInput, mutate, seedInputs };

if (require.main === module) main();
