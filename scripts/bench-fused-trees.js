// The fused ops' forward time in two builds of qkernels, in one process on the same inputs: `node scripts/bench-fused-trees.js <dist A> <dist B>`.
// Prints each op's median time in both, the ratio B / A and whether the bytes are the same (a
// change of the op layer must keep them). Example: node scripts/bench-fused-trees.js ../main/dist dist
const path = require('path');
if (process.argv.length < 4) {
  console.error('usage: node scripts/bench-fused-trees.js <dist A> <dist B>');
  process.exit(2);
}
const trees = { main: path.resolve(process.argv[2]), branch: path.resolve(process.argv[3]) };
const libs = Object.fromEntries(Object.entries(trees).map(([k, p]) => [k, require(p)]));
function bench(fn, ms = 1500) {
  for (let i = 0; i < 5; i++) fn();
  const times = [];
  const end = Date.now() + ms;
  while (Date.now() < end) { const t = process.hrtime.bigint(); fn(); times.push(Number(process.hrtime.bigint() - t) / 1e3); }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
function rnd(n, seed) { const a = new Float32Array(n); let s = seed; for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) % 2147483648; a[i] = s / 2147483648 * 2 - 1; } return a; }
const results = {};
for (const [name, q] of Object.entries(libs)) {
  const x = q.quantizePerTensor(q.tensor(rnd(64 * 56 * 56, 1), [1, 64, 56, 56]), 0.02, 128, 'quint8');
  const extra = q.quantizePerTensor(q.tensor(rnd(64 * 56 * 56, 2), [1, 64, 56, 56]), 0.03, 120, 'quint8');
  const conv = new q.nniq.ConvAdd2d(64, 64, 3, { padding: 1 });
  conv.scale = 0.05; conv.zeroPoint = 128;
  const lx = q.quantizePerTensor(q.tensor(rnd(64 * 512, 3), [64, 512]), 0.02, 128, 'quint8');
  const lin = new q.nniq.LinearTanh(512, 512);
  lin.scale = 0.01; lin.zeroPoint = 128;
  const a = conv.forward(x, extra).intRepr(), b = lin.forward(lx).intRepr();
  results[name] = { conv: bench(() => conv.forward(x, extra)), linear: bench(() => lin.forward(lx)), a, b };
}
const same = (u, v) => u.length === v.length && u.every((e, i) => e === v[i]);
console.log(`ConvAdd2d 64->64 3x3 56x56: A ${results.main.conv.toFixed(0)} us, B ${results.branch.conv.toFixed(0)} us, B/A ${(results.branch.conv / results.main.conv).toFixed(2)}, same bytes ${same(results.main.a, results.branch.a)}`);
console.log(`LinearTanh 64x512->512: A ${results.main.linear.toFixed(0)} us, B ${results.branch.linear.toFixed(0)} us, B/A ${(results.branch.linear / results.main.linear).toFixed(2)}, same bytes ${same(results.main.b, results.branch.b)}`);
console.log(`(median of repeated calls over 1.5 s each; ${require('os').cpus()[0].model}, load average ${require('os').loadavg()[0].toFixed(1)})`);
