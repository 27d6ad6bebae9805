// The seeded API fuzzer (test/fuzz/api-fuzz.js) as a bounded jest run: 60,000 calls in child processes, no crash allowed.
// QKERNELS_FUZZ_CALLS=1000000 (with QKERNELS_FUZZ_SEED) makes it the long run.
import { spawnSync } from 'child_process';
import * as path from 'path';

const calls = Number(process.env.QKERNELS_FUZZ_CALLS || 60000);
const seed = Number(process.env.QKERNELS_FUZZ_SEED || 1);

test(`the public API survives ${calls} fuzzed calls (seed ${seed})`, () => {
  const script = path.join(__dirname, 'fuzz', 'api-fuzz.js');
  const child = spawnSync(process.execPath, [script, '--calls', String(calls), '--batch', '5000', '--seed', String(seed)], {
    encoding: 'utf8',
    timeout: Math.max(170000, calls * 2),
    maxBuffer: 64 * 1024 * 1024,
  });
  const summary = /api-fuzz: (\d+) calls, (\d+) batches, (\d+) crashes/.exec(child.stdout ?? '');
  const crashes = (child.stdout ?? '').split('\n').filter((line) => line.startsWith('CRASH'));
  expect({ status: child.status, calls: summary ? Number(summary[1]) : -1, crashes: summary ? Number(summary[3]) : -1, report: crashes })
    .toEqual({ status: 0, calls, crashes: 0, report: [] });
}, Math.max(180000, calls * 3));
