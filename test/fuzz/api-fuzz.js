// Seeded fuzzer of the public API: random calls of every exported function, op and module with valid, invalid, fake, detached and shared arguments.
//
// Usage: node test/fuzz/api-fuzz.js [--calls N] [--seed S] [--batch B]
//   The parent runs batches of B calls, each batch in a child process (`--child SEED B`), so
//   a crash (signal, abort, non-zero exit) is seen and reported with the seed that replays it:
//   `node test/fuzz/api-fuzz.js --child SEED B`. A call may return or throw; it must never
//   crash the process, and a throw must be an Error (TypeError/RangeError for bad arguments).
// Ends with one line `api-fuzz: N calls, M batches, K crashes, T s`.
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');

// xorshift32: small, seedable, the same sequence on every platform.
function makeRng(seed) {
  let s = (seed >>> 0) || 0x9e3779b9;
  const next = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = (items) => items[Math.floor(next() * items.length)];
  return { next, int, pick };
}

function runChild(seed, calls) {
  const q = require(root);
  const { qF, nnq, nnqd, nniq, ops, tensor, quantizePerTensor } = q;
  const rng = makeRng(seed);
  const shared = new SharedArrayBuffer(4096);

  // ---- argument generators ----
  const smallShape = () => Array.from({ length: rng.int(1, 5) }, () => rng.int(1, 6));
  const floats = (n) => Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 8);
  const realTensor = (shape = smallShape()) => tensor(floats(shape.reduce((a, b) => a * b, 1)), shape);
  const realQ = (shape = smallShape(), dtype = rng.pick(['quint8', 'qint8'])) =>
    quantizePerTensor(realTensor(shape), rng.pick([0.01, 0.1, 1]), dtype === 'quint8' ? rng.int(0, 255) : rng.int(-128, 127), dtype);
  const detachedQ = () => {
    const x = realQ();
    structuredClone(x.data.buffer, { transfer: [x.data.buffer] });
    return x;
  };
  const sharedTensor = () => {
    const n = rng.int(1, 64);
    return tensor(new Float32Array(shared, 0, n), [n]);
  };
  const fake = (base) => Object.create(base, { shape: { value: [2 ** rng.int(20, 45), ...base.shape.slice(1)] } });
  const lyingList = (values) => {
    let reads = 0;
    return new Proxy(values, { get: (t, k) => (k === 'length' ? (reads++ === 0 ? values.length : 1e9) : t[k]) });
  };
  const numbers = [0, 1, 2, 3, -1, 0.5, 2 ** 31, 2 ** 53, -(2 ** 31), 1e6, NaN, Infinity, -0, 1e-30];
  const scalars = () => rng.pick([
    rng.pick(numbers), rng.int(0, 8), 'quint8', 'qint8', 'bogus', null, undefined, true, {}, [],
    [rng.int(1, 4), rng.int(1, 4)], [1e6, 1e6], lyingList([1, 1]), 10n, Symbol('s'),
  ]);
  const tensorArg = () => {
    switch (rng.int(0, 10)) {
      case 0: return realTensor();
      case 1: return realQ([rng.int(1, 2), rng.int(1, 4), rng.int(1, 8), rng.int(1, 8)]);
      case 2: return realQ([rng.int(1, 2), rng.int(1, 4), rng.int(1, 8)]);
      case 3: return detachedQ();
      case 4: return fake(realQ([2, 2, 4, 4]));
      case 5: return sharedTensor();
      case 6: return new Int32Array(rng.int(0, 8)).map(() => rng.int(-2, 10));
      case 7: return realQ();
      case 8: return realQ([rng.int(1, 3), rng.int(1, 6)]);
      // Donated (lib/handoff.ts): the first async op given it reads it in place and detaches it.
      case 9: return q.donate(rng.next() < 0.5 ? realTensor() : realQ([rng.int(1, 2), rng.int(1, 4), rng.int(1, 8), rng.int(1, 8)]));
      default: return scalars();
    }
  };
  const options = () => {
    if (rng.next() < 0.3) return scalars();
    const keys = ['stride', 'padding', 'dilation', 'groups', 'scale', 'zeroPoint', 'size', 'scaleFactor', 'mode', 'ceilMode',
      'alignCorners', 'dim', 'eps', 'outputPadding', 'bias', 'dtype', 'includeLastOffset', 'countIncludePad', 'negativeSlope'];
    const o = {};
    for (let i = rng.int(0, 3); i > 0; i--) o[rng.pick(keys)] = scalars();
    return o;
  };
  const args = () => Array.from({ length: rng.int(0, 6) }, () => (rng.next() < 0.55 ? tensorArg() : rng.next() < 0.7 ? scalars() : options()));

  // ---- targets: every exported function, op and module class ----
  const functions = [];
  const add = (name, fn) => typeof fn === 'function' && functions.push([name, fn]);
  for (const k of Object.keys(q)) if (typeof q[k] === 'function' && !/^[A-Z]/.test(k)) add(k, q[k]);
  for (const [ns, obj] of [['qF', qF], ['ops.quantized', ops.quantized], ['backend', null]]) {
    if (obj) for (const k of Object.keys(obj)) add(`${ns}.${k}`, obj[k]);
  }
  const classes = [];
  for (const [ns, obj] of [['nnq', nnq], ['nnqd', nnqd], ['nniq', nniq], ['nnq.dynamic', nnq.dynamic]]) {
    for (const k of Object.keys(obj || {})) if (typeof obj[k] === 'function' && /^[A-Z]/.test(k)) classes.push([`${ns}.${k}`, obj[k]]);
  }

  const describeArg = (v) => {
    if (v && v.shape) return `${v.constructor.name}${JSON.stringify(v.shape)}`;
    if (v && typeof v === 'object') { try { return JSON.stringify(v); } catch { return Object.keys(v).join('|'); } }
    return typeof v === 'symbol' ? v.toString() : String(v);
  };
  let done = 0;
  const pending = [];
  const check = (label, error) => {
    if (!(error instanceof Error)) throw new Error(`${label} threw a non-Error: ${String(error)}`);
  };
  let last = Date.now();
  let lastLabel = '';
  const trace = process.env.QKERNELS_FUZZ_TRACE === '1';
  while (done < calls) {
    // A call that takes long is work unbounded by its inputs: report it (the parent times out).
    if (Date.now() - last > 2000) console.error(`slow call ${done - 1}: ${lastLabel} ${Date.now() - last} ms`);
    last = Date.now();
    if (trace) require('fs').writeSync(2, `call ${done}\n`);
    const roll = rng.next();
    const a = args();
    if (roll < 0.6) {
      const [name, fn] = rng.pick(functions);
      lastLabel = name;
      if (trace) require('fs').writeSync(2, `${name}(${a.map((v) => String(v && v.shape ? 'T' + JSON.stringify(v.shape) : typeof v === 'object' && v ? Object.keys(v).join('|') : String(v))).join(', ')})\n`);
      try {
        const r = fn(...a);
        if (r && typeof r.then === 'function') pending.push(r.catch((e) => check(name, e)));
      } catch (e) {
        check(name, e);
      }
    } else {
      const [name, Cls] = rng.pick(classes);
      lastLabel = name;
      if (trace) require('fs').writeSync(2, `new ${name}(${a.map((v) => String(v && v.shape ? 'T' + JSON.stringify(v.shape) : typeof v === 'object' && v ? Object.keys(v).join('|') : String(v))).join(', ')})\n`);
      let m;
      try {
        m = new Cls(...a);
      } catch (e) {
        check(name, e);
      }
      if (m) {
        // Sometimes disposed first or in between: later calls must be TypeErrors, dispose idempotent.
        const methods = rng.next() < 0.2 ? ['forward', 'dispose', 'forward', 'forwardAsync', 'dispose', 'toString'] : ['forward', 'forwardAsync', 'toString'];
        for (const method of methods) {
          if (typeof m[method] !== 'function') continue;
          const margs = args();
          if (trace) require('fs').writeSync(2, `  .${method}(${margs.map(describeArg).join(', ')}) on ${describeArg(a[0])}\n`);
          try {
            const r = m[method](...margs);
            if (r && typeof r.then === 'function') pending.push(r.catch((e) => check(`${name}.${method}`, e)));
          } catch (e) {
            check(`${name}.${method}`, e);
          }
        }
      }
    }
    done++;
  }
  return Promise.all(pending).then(() => done);
}

function parseArgs(argv) {
  const out = { calls: Number(process.env.QKERNELS_FUZZ_CALLS || 20000), seed: Number(process.env.QKERNELS_FUZZ_SEED || 1), batch: 2000 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--calls') out.calls = Number(argv[++i]);
    else if (argv[i] === '--seed') out.seed = Number(argv[++i]);
    else if (argv[i] === '--batch') out.batch = Number(argv[++i]);
  }
  return out;
}

if (require.main !== module) {
  // required for makeRng (test/fuzz/load-fuzz.js)
} else if (process.argv[2] === '--child') {
  runChild(Number(process.argv[3]), Number(process.argv[4])).then(
    (n) => console.log(`child done ${n}`),
    (e) => {
      console.error(e);
      process.exit(3);
    },
  );
} else {
  const { calls, seed, batch } = parseArgs(process.argv.slice(2));
  // Valid but huge requests (new nnqd.Linear(1, 2 ** 31) packs gigabytes) must fail as
  // errors, not invite the OOM killer: on Linux each child runs under an address-space limit
  // (QKERNELS_FUZZ_MEMORY_GB, default 12), so such allocations fail inside the process and
  // the library's RangeError paths are what gets tested.
  const memoryGb = Number(process.env.QKERNELS_FUZZ_MEMORY_GB || 12);
  const limited = process.platform === 'linux' && memoryGb > 0 && spawnSync('prlimit', ['--version']).status === 0;
  const command = limited ? 'prlimit' : process.execPath;
  const prefix = limited ? [`--as=${Math.round(memoryGb * 2 ** 30)}`, process.execPath] : [];
  const start = Date.now();
  let total = 0;
  let batches = 0;
  const crashes = [];
  for (let b = 0; total < calls; b++) {
    const n = Math.min(batch, calls - total);
    const childSeed = (seed * 1000003 + b) >>> 0;
    const child = spawnSync(command, [...prefix, __filename, '--child', String(childSeed), String(n)], {
      cwd: root, encoding: 'utf8', timeout: 120000, maxBuffer: 64 * 1024 * 1024,
    });
    batches++;
    total += n;
    if (child.status !== 0 || !/child done/.test(child.stdout)) {
      crashes.push({ seed: childSeed, calls: n, status: child.status, signal: child.signal, stderr: (child.stderr || '').slice(-800) });
      console.log(`CRASH seed ${childSeed} (${n} calls): exit ${child.status} signal ${child.signal}; replay: ${limited ? `prlimit ${prefix[0]} ` : ''}node test/fuzz/api-fuzz.js --child ${childSeed} ${n}\n${(child.stderr || '').slice(-800)}`);
    }
  }
  const seconds = ((Date.now() - start) / 1000).toFixed(1);
  console.log(`api-fuzz: ${total} calls, ${batches} batches, ${crashes.length} crashes, ${seconds} s`);
  process.exitCode = crashes.length === 0 ? 0 : 1;
}

module.exports = { makeRng };
