// Event-loop lag with async convolutions in flight: p50/p99/max of perf_hooks.monitorEventLoopDelay while N conv forwardAsync run, and what each call costs the JS thread.
// Usage: node bench/event-loop.js [inFlight=16] [rounds=3] [traced] [--steady] [--handoff] [--root DIR]
//        node bench/event-loop.js --control [seconds=1] [perMessageBytes=0]
//   (issue 14: p99 lag with 16 in flight; issue 11: `8 3 traced` runs the conv as a jit.trace plan,
//   whose forwardAsync is one AsyncWorker per forward; --root loads the qkernels build at DIR
//   instead of this checkout, so two builds can be run alternately by the same command.)
// Two ways to hold `inFlight` calls in flight, inFlight * rounds calls either way:
//   burst (default): each round issues all inFlight calls in one synchronous loop, then waits for
//     all of them. The loop itself holds the JS thread for inFlight times one call's synchronous
//     part (mostly the input snapshot: async ops copy their input at call time, issue 14).
//   --steady: a closed loop, as a server under constant load: every completion issues the next
//     call, so there are always inFlight calls queued or running and each call's synchronous
//     part stands alone.
//   --handoff: the zero-copy handoffs (lib/handoff.ts). Each of the inFlight lanes owns a tensor
//     and feeds every output back as its next input, donated (q.donate), as a stream of frames
//     whose buffers cycle: the async op reads the donated input in place instead of copying it,
//     and once it has finished that buffer is recycled into the output of a later call, so the
//     calls neither copy nor allocate 3.2 MB. (Without it: the default API, which copies every
//     input at call time and returns a fresh output.)
//   --control: no qkernels at all. One worker thread busy in 10 ms slices, posting a message
//     after each (the shape of the bench's work: one computation at a time, one completion every
//     ~10 ms) for `seconds` (about one bench run), under the same timer and histogram. It
//     is the lag this machine gives any Node process with one busy thread: what the bench's
//     figures cannot go below here (on a 2-vCPU VM, a woken vCPU can take milliseconds to run).
//     `--control 2 3211264` adds, per message, a copy and an allocation of one conv input's
//     size: what the default async API's semantics (input copied at call time, fresh output)
//     cost any implementation here; --handoff is the way below it.
// Besides the lag, it prints the JS thread's own CPU time and minor page faults (Linux:
// /proc/self/task/<pid>/schedstat and stat; absent elsewhere): per call over the whole lag pass
// (the call's synchronous part plus completions, promise resolution, the QTensor wrap, GC), and
// the wall time of each forwardAsync call's synchronous part (checks, input snapshot, output
// allocation, queueing), timed in a second pass of the same calls because reading /proc around every call
// would itself hold the loop. CPU time, unlike lag, does not depend on how many other threads
// want the cores.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { monitorEventLoopDelay } = require('perf_hooks');

const positional = [];
let root = path.join(__dirname, '..');
let steady = false;
let control = false;
let handoff = false;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--root') root = path.resolve(process.argv[++i]);
  else if (process.argv[i] === '--steady') steady = true;
  else if (process.argv[i] === '--control') control = true;
  else if (process.argv[i] === '--handoff') handoff = true;
  else positional.push(process.argv[i]);
}
const q = require(root);

// The JS thread's run time (ns) and minor faults, or null where /proc is not there.
const task = `/proc/self/task/${process.pid}`;
function mainThread() {
  try {
    const cpuNs = Number(fs.readFileSync(`${task}/schedstat`, 'utf8').split(' ')[0]);
    // stat: "pid (comm) state ..." - comm may hold spaces, so fields count from the last ')'.
    const stat = fs.readFileSync(`${task}/stat`, 'utf8');
    const minflt = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
    return { cpuNs, minflt };
  } catch {
    return null;
  }
}

// The control run: the same histogram and timer beside one busy worker thread, no qkernels.
// With `perMessageBytes` the JS thread also does, per message, what the default async API must
// do per call (copy the input at call time, allocate a fresh output): a copy of that many bytes
// into one of 16 buffers and a new ArrayBuffer of that size (the last 16 kept alive, as 16
// outputs in flight would be). Its lag is the floor of those semantics on this machine.
async function runControl(seconds, perMessageBytes) {
  const { Worker } = require('worker_threads');
  const worker = new Worker(
    `const { parentPort } = require('worker_threads');
     const end = Date.now() + ${Math.round(seconds * 1000)};
     while (Date.now() < end) { const t = Date.now() + 10; while (Date.now() < t) {} parentPort.postMessage(0); }
     parentPort.postMessage(1);`,
    { eval: true },
  );
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const tick = setInterval(() => {}, 1);
  histogram.enable();
  const source = new Uint8Array(perMessageBytes).fill(3);
  const copies = Array.from({ length: perMessageBytes > 0 ? 16 : 0 }, () => new Uint8Array(perMessageBytes));
  const outputs = [];
  let messages = 0;
  await new Promise((resolve) => worker.on('message', (last) => {
    if (last) return resolve();
    if (perMessageBytes > 0) {
      copies[messages++ % 16].set(source);
      outputs.push(new ArrayBuffer(perMessageBytes));
      if (outputs.length > 16) outputs.shift();
    }
  }));
  histogram.disable();
  clearInterval(tick);
  await worker.terminate();
  const ms = (ns) => Number((ns / 1e6).toFixed(2));
  console.log(JSON.stringify({
    mode: perMessageBytes > 0 ? `control + a ${perMessageBytes}-byte copy and allocation per message` : 'control (one busy worker thread, no qkernels)', seconds, p50ms: ms(histogram.percentile(50)),
    p99ms: ms(histogram.percentile(99)), samples: histogram.count, maxms: ms(histogram.max),
    load1: Number(os.loadavg()[0].toFixed(2)), cpu: os.cpus()[0].model,
  }));
}

async function main() {
  if (control) return runControl(Number(positional[0] || 1), Number(positional[1] || 0));
  const inFlight = Number(positional[0] || 16);
  const rounds = Number(positional[1] || 3);
  const traced = positional[2] === 'traced';
  const m = new q.nnq.Conv2d(64, 64, 3, { padding: 1 });
  m.scale = 0.2;
  m.zeroPoint = 0;
  // --handoff feeds outputs back as inputs: in the conv's output qparams and layout
  // (channels_last, as torch's quantized conv), which a traced plan then expects of every input.
  const plain = q.quantizePerTensor(q.tensor(new Float32Array(64 * 224 * 224).map((_, i) => (i % 17) / 8), [1, 64, 224, 224]),
    handoff ? m.scale : 0.05, handoff ? m.zeroPoint : 3, 'quint8');
  const x = handoff ? plain.contiguous('channels_last') : plain;
  const model = traced ? q.jit.trace(m, x) : m;
  // Each lane's own input under --handoff (a private copy of x, then its latest output).
  const lanes = handoff ? Array.from({ length: inFlight }, () => plain.contiguous('channels_last')) : [];
  // One call of lane i: the default API on x, or the lane's tensor donated and its output kept as the next input.
  const call = handoff
    ? async (i) => { lanes[i] = await model.forwardAsync(q.donate(lanes[i])); }
    : () => model.forwardAsync(x);
  // Warm-up, one round at the same concurrency: packing, the thread pool's start, and the
  // snapshot pool's first fill (a server's steady state; the first round faults in its copies).
  await Promise.all(Array.from({ length: inFlight }, (_, i) => call(i)));
  // One pass of inFlight * rounds calls in the chosen mode; `issue(i)` makes one call of lane i.
  const drive = async (issue) => {
    if (steady) {
      let issued = 0;
      const lane = async (_, i) => {
        while (issued < inFlight * rounds) {
          issued++;
          await issue(i);
        }
      };
      await Promise.all(Array.from({ length: inFlight }, lane));
    } else {
      for (let r = 0; r < rounds; r++) {
        const pending = [];
        for (let i = 0; i < inFlight; i++) pending.push(issue(i));
        await Promise.all(pending);
      }
    }
  };
  // The lag pass: nothing but the calls on the JS thread (reading /proc around every call
  // would itself hold the loop, ~0.1 ms a call), the thread's CPU time read at both ends.
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  // A timer keeps the loop turning so that every stall shows up as delay.
  const tick = setInterval(() => {}, 1);
  histogram.enable();
  const start = process.hrtime.bigint();
  const runStart = mainThread();
  await drive(call);
  const runEnd = mainThread();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  histogram.disable();
  clearInterval(tick);
  // The cost pass: the same calls again, each call's synchronous part timed (wall clock: the
  // schedstat CPU time is only brought up to date at scheduler ticks, too coarse for one call).
  let callNs = 0;
  let callFaults = 0;
  await drive((i) => {
    const faults = mainThread();
    const t0 = process.hrtime.bigint();
    const promise = call(i);
    callNs += Number(process.hrtime.bigint() - t0);
    const after = mainThread();
    if (faults && after) callFaults += after.minflt - faults.minflt;
    return promise;
  });
  const calls = inFlight * rounds;
  const ms = (ns) => Number((ns / 1e6).toFixed(2));
  const perCall = runStart && runEnd ? {
    callMs: ms(callNs / calls), callFaults: Math.round(callFaults / calls),
    runCpuMsPerCall: ms((runEnd.cpuNs - runStart.cpuNs) / calls), runFaultsPerCall: Math.round((runEnd.minflt - runStart.minflt) / calls),
  } : {};
  console.log(JSON.stringify({
    root: path.relative(process.cwd(), root) || '.', inFlight, rounds, traced, mode: steady ? 'steady' : 'burst', handoff, seconds: Number(seconds.toFixed(2)), threads: q.backend.info().threads,
    p50ms: ms(histogram.percentile(50)), p99ms: ms(histogram.percentile(99)), samples: histogram.count, maxms: ms(histogram.max),
    ...perCall, load1: Number(os.loadavg()[0].toFixed(2)), cpu: os.cpus()[0].model,
  }));
}
main();
