// Event-loop lag with async convolutions in flight: p50/p99/max of perf_hooks.monitorEventLoopDelay while N conv forwardAsync run.
// Usage: node bench/event-loop.js [inFlight=16] [rounds=3] [traced]   (issue 14: p99 lag with 16 in flight;
// issue 11: `8 3 traced` runs the conv as a jit.trace plan, whose forwardAsync is one AsyncWorker per forward)
'use strict';
const { monitorEventLoopDelay } = require('perf_hooks');
const q = require('..');

async function main() {
  const inFlight = Number(process.argv[2] || 16);
  const rounds = Number(process.argv[3] || 3);
  const traced = process.argv[4] === 'traced';
  const m = new q.nnq.Conv2d(64, 64, 3, { padding: 1 });
  m.scale = 0.2;
  m.zeroPoint = 0;
  const x = q.quantizePerTensor(q.tensor(new Float32Array(64 * 224 * 224).map((_, i) => (i % 17) / 8), [1, 64, 224, 224]), 0.05, 3, 'quint8');
  const model = traced ? q.jit.trace(m, x) : m;
  await model.forwardAsync(x); // warm-up: packing, thread pool start
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  // A timer keeps the loop turning so that every stall shows up as delay.
  const tick = setInterval(() => {}, 1);
  histogram.enable();
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    await Promise.all(Array.from({ length: inFlight }, () => model.forwardAsync(x)));
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  histogram.disable();
  clearInterval(tick);
  const ms = (ns) => (ns / 1e6).toFixed(2);
  console.log(JSON.stringify({
    inFlight, rounds, traced, seconds: Number(seconds.toFixed(2)), threads: q.backend.info().threads,
    p50ms: Number(ms(histogram.percentile(50))), p99ms: Number(ms(histogram.percentile(99))), maxms: Number(ms(histogram.max)),
  }));
}
main();
