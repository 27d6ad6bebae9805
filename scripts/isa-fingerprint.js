// Prints one SHA-256 over quantize/dequantize results of a fixed case set, per ISA level and thread count.
//
// Every level and thread count must print the same hash (bit identity), and the
// hash must be the same on every machine: scripts/test-arm-js.sh compares the
// arm64 hash, computed under qemu, with the x64 one, whose numbers jest proves
// equal to PyTorch's. Usage: node scripts/isa-fingerprint.js [--json]
'use strict';
const crypto = require('crypto');
const path = require('path');
const q = require(path.join(__dirname, '..'));

// xorshift32: the same stream on every platform.
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

function makeInput(rand, n, scale) {
  const x = new Float32Array(n);
  const special = [NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 1e30, -1e30, 3.4e38];
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.05) x[i] = special[Math.floor(rand() * special.length)];
    else if (r < 0.35) x[i] = (Math.floor(rand() * 600) - 300 + 0.5) * scale; // exact half-way cases
    else x[i] = (rand() * 2 - 1) * 300 * scale;
  }
  return x;
}

function bytesOf(view) {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function runCases() {
  const hash = crypto.createHash('sha256');
  const rand = rng(20261121);
  const dtypes = ['quint8', 'qint8', 'qint32', 'quint4x2'];
  for (let c = 0; c < 60; c++) {
    const dtype = dtypes[c % dtypes.length];
    const n = 1 + Math.floor(rand() * 700);
    const scale = Math.fround(Math.exp((rand() * 2 - 1) * 6));
    const x = makeInput(rand, n, scale);
    const zeroPoint = {
      quint8: Math.floor(rand() * 256), qint8: Math.floor(rand() * 256) - 128,
      qint32: Math.floor(rand() * 2001) - 1000, quint4x2: Math.floor(rand() * 16),
    }[dtype];
    const qt = q.quantizePerTensor(q.tensor(x, [n]), scale, zeroPoint, dtype);
    hash.update(bytesOf(qt.intRepr()));
    hash.update(bytesOf(qt.dequantize().data));
  }
  for (let c = 0; c < 30; c++) {
    const channels = 1 + Math.floor(rand() * 7);
    const inner = 1 + Math.floor(rand() * 90);
    const outer = 1 + Math.floor(rand() * 3);
    const x = makeInput(rand, outer * channels * inner, 0.05);
    const scales = Array.from({ length: channels }, () => Math.exp((rand() * 2 - 1) * 4));
    const input = q.tensor(x, [outer, channels, inner]);
    const affine = q.quantizePerChannel(input, scales, scales.map(() => Math.floor(rand() * 256) - 128), 1, 'qint8');
    hash.update(bytesOf(affine.intRepr()));
    hash.update(bytesOf(affine.dequantize().data));
    const floatZp = Float32Array.from(scales, () => (rand() * 2 - 1) * 100);
    const fq = q.quantizePerChannel(input, Float32Array.from(scales), floatZp, 1, c % 2 ? 'quint8' : 'quint4x2');
    hash.update(bytesOf(fq.intRepr()));
    hash.update(bytesOf(fq.dequantize().data));
  }
  for (let c = 0; c < 10; c++) {
    const n = 1 + Math.floor(rand() * 500);
    const x = Float32Array.from({ length: n }, () => (rand() * 2 - 1) * 10 + (c - 5));
    const d = q.quantizePerTensorDynamic(q.tensor(x, [n]), c % 2 ? 'qint8' : 'quint8', c % 3 === 0);
    hash.update(`${d.qScale()}/${d.qZeroPoint()}`);
    hash.update(bytesOf(d.intRepr()));
  }
  return hash.digest('hex');
}

const levels = ['scalar', 'avx2', 'avx512vnni', 'neon', 'neondot'];
const best = q.backend.info().bestIsa;
const arch = ['avx2', 'avx512vnni'].includes(best) ? ['scalar', 'avx2', 'avx512vnni'] : ['scalar', 'neon', 'neondot'];
const results = [];
for (const level of arch) {
  if (levels.indexOf(level) < 0) continue;
  const active = q.backend.setMaxIsa(level);
  if (active !== level) continue; // the CPU lacks this level
  for (const threads of [1, 2]) {
    q.backend.setNumThreads(threads);
    results.push({ isa: level, threads, hash: runCases() });
  }
}
const distinct = new Set(results.map((r) => r.hash));
if (process.argv.includes('--json')) {
  process.stdout.write(JSON.stringify({ arch: process.arch, results }) + '\n');
} else {
  for (const r of results) console.log(`${process.arch} ${r.isa} threads=${r.threads} ${r.hash}`);
}
if (distinct.size !== 1) {
  console.error('isa-fingerprint: ISA levels or thread counts disagree');
  process.exit(1);
}
