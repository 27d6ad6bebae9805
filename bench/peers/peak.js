// The machine's int8 peak: builds native/bench/peak-bench.cc with the system C++ compiler (no cmake, no flags needed) and runs it.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { PEERS_DIR, ROOT_DIR } = require('../lib/common');

const SOURCE = path.join(ROOT_DIR, 'native', 'bench', 'peak-bench.cc');
const BINARY = path.join(PEERS_DIR, process.platform === 'win32' ? 'qk_bench_peak.exe' : 'qk_bench_peak');

/** Builds the peak binary when missing or older than its source; returns an error string or null. */
function build() {
  if (fs.existsSync(BINARY) && fs.statSync(BINARY).mtimeMs >= fs.statSync(SOURCE).mtimeMs) return null;
  fs.mkdirSync(PEERS_DIR, { recursive: true });
  const compilers = process.env.CXX ? [process.env.CXX] : ['c++', 'g++', 'clang++'];
  let last = '';
  for (const cxx of compilers) {
    const r = spawnSync(cxx, ['-O2', '-std=c++17', '-o', BINARY, SOURCE], { encoding: 'utf8' });
    if (r.status === 0) return null;
    last = r.error ? `${cxx}: ${r.error.message}` : `${cxx}: ${(r.stderr || '').trim().split('\n')[0]}`;
  }
  return `cannot build ${path.relative(ROOT_DIR, SOURCE)} (${last})`;
}

/** { byIsa: { avx2: {available, gops, loop, why}, avx512vnni: {...} } } or { error }. */
function measurePeak({ minSeconds = 0.3, clock = 'wall' } = {}) {
  const problem = build();
  if (problem) return { error: problem };
  const r = spawnSync(BINARY, ['--json', '--min-seconds', String(minSeconds), '--clock', clock], { encoding: 'utf8' });
  if (r.status !== 0) return { error: `${BINARY} failed: ${(r.stderr || r.error?.message || '').trim()}` };
  const byIsa = {};
  for (const entry of JSON.parse(r.stdout)) byIsa[entry.isa] = entry;
  return { byIsa };
}

module.exports = { measurePeak };
