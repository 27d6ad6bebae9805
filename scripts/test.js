// `npm test`: the C++ tests (native, then arm64 under qemu), then the jest suite on each build of the addon.
//
// Steps (all by default; QKERNELS_TEST_STEPS=layers,native,sanitize,arm,armjs,jest,cmake,prebuild,pack picks some):
//   layers    scripts/check-layers.js: no include from a lower native layer to a higher one, no
//             element loop in native/addon/ (one check; seconds)
//   native    C++ test binary for every ISA level this CPU runs (ctest)
//   sanitize  the same under AddressSanitizer + UndefinedBehaviorSanitizer
//   arm       the same binary cross-built for arm64, run under qemu-aarch64 (-cpu max and a53)
//   armjs     the addon cross-built for arm64, run by an arm64 node under qemu: same bits as x64
//   jest      the jest suite on the node-gyp build (build/Release, made by `npm install`)
//   cmake     builds the addon with cmake-js and runs the binding suites on it (QKERNELS_ADDON)
//   prebuild  runs `npm run prebuild` and the binding suites with PREBUILDS_ONLY=1, so the
//             package is proven to load from prebuilds/ alone
//   pack      installs the npm tarball into a scratch project: without a prebuild it must
//             build from source, with one it must load it without compiling
// Ends with one line `qkernels: N passed, M failed, K skipped` summing every step.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const allSteps = ['layers', 'native', 'sanitize', 'arm', 'armjs', 'jest', 'cmake', 'prebuild', 'pack'];
const wanted = (process.env.QKERNELS_TEST_STEPS || allSteps.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
for (const step of wanted) {
  if (!allSteps.includes(step)) {
    console.error(`Expected one of ${allSteps.join(', ')} in QKERNELS_TEST_STEPS but received '${step}'`);
    process.exit(2);
  }
}

const totals = { passed: 0, failed: 0, skipped: 0 };
const report = [];

function run(title, command, args, env) {
  console.log(`\n=== ${title}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    // QKERNELS_MIN_PARALLEL_NS=0: small test tensors still take the thread split (base/threadpool.h).
    env: { QKERNELS_MIN_PARALLEL_NS: '0', ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  process.stdout.write(result.stdout || '');
  return { status: result.status === null ? 1 : result.status, stdout: result.stdout || '' };
}

// ctest -V echoes each test's output as "<n>: <line>"; qk_test ends with
// "N passed, M failed, K skipped" over its cases, and those are the counts reported (a
// kernel this CPU cannot run is a skipped case, never a pass). ctest's own summary
// "100% tests passed, 0 tests failed out of 4" must agree that every entry succeeded.
function countCtest(title, out, status) {
  const summary = /(\d+)% tests passed, (\d+) tests? failed out of (\d+)/.exec(out);
  const counts = { passed: 0, failed: 0, skipped: 0 };
  let entries = 0;
  for (const m of out.matchAll(/^\d+: (\d+) passed, (\d+) failed, (\d+) skipped\s*$/gm)) {
    counts.passed += Number(m[1]);
    counts.failed += Number(m[2]);
    counts.skipped += Number(m[3]);
    entries += 1;
  }
  if (!summary || entries === 0) {
    report.push(`${title}: no test summary (exit ${status})`);
    totals.failed += 1;
    return;
  }
  const failedEntries = Number(summary[2]);
  if (status !== 0 || failedEntries > 0) counts.failed = Math.max(counts.failed, failedEntries, 1);
  totals.passed += counts.passed;
  totals.failed += counts.failed;
  totals.skipped += counts.skipped;
  report.push(`${title}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (cases, over ${summary[3]} ctest entries)`);
}

// The suites the cmake-js and prebuild steps run: together they call every binding entry
// point of every family (sync, async, errors, loading). The long differential suites run once,
// on the node-gyp build: the numerics of the CMake-compiled kernels are proven by the C++
// tests (same CMake flags), so repeating them per build would only cost time.
// QKERNELS_FULL_JEST_EVERY_BUILD=1 runs the whole suite on every build.
const BINDING_SUITES = [
  'loading', 'backend', 'async', 'errors', 'byte-offset', 'modules', 'conv-modules', 'linear-fast-path',
  'elementwise-errors', 'pool-errors', 'pool-ops', 'norm-ops', 'embedding-bag', 'tensor-ops-views',
  // The addon's own robustness (shared memory, worker termination, allocation limits) on each build.
  'reliability-crash',
].map((name) => `test/${name}\\.test\\.ts$`);

function runJest(title, env, suites) {
  const jsonFile = path.join(os.tmpdir(), `qkernels-jest-${process.pid}-${report.length}.json`);
  const jestBin = require.resolve('jest/bin/jest', { paths: [root] });
  const only = suites && process.env.QKERNELS_FULL_JEST_EVERY_BUILD !== '1' ? suites : [];
  const { status } = run(title, process.execPath, [jestBin, '--json', `--outputFile=${jsonFile}`, ...only], env);
  let summary = null;
  try {
    summary = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
    fs.unlinkSync(jsonFile);
  } catch (err) {
    summary = null;
  }
  if (!summary) {
    report.push(`${title}: jest produced no result (exit ${status})`);
    totals.failed += 1;
    return;
  }
  const skipped = summary.numPendingTests + summary.numTodoTests;
  totals.passed += summary.numPassedTests;
  totals.failed += summary.numFailedTests + (status !== 0 && summary.numFailedTests === 0 ? 1 : 0);
  totals.skipped += skipped;
  report.push(`${title}: ${summary.numPassedTests} passed, ${summary.numFailedTests} failed, ${skipped} skipped (jest tests)`);
}

function step(name, fn) {
  if (wanted.includes(name)) fn();
}

step('layers', () => {
  const r = run('native layering and the binding\'s loops', process.execPath, ['scripts/check-layers.js']);
  totals[r.status === 0 ? 'passed' : 'failed'] += 1;
  report.push(`layers: ${r.status === 0 ? '1 passed, 0 failed' : 'FAILED (the lines above name every violation)'} (scripts/check-layers.js)`);
});
step('native', () => {
  const r = run('C++ tests, native', 'bash', ['scripts/test-native.sh']);
  countCtest('C++ native', r.stdout, r.status);
});
step('sanitize', () => {
  const r = run('C++ tests, ASan + UBSan', 'bash', ['scripts/test-native.sh', '--sanitize']);
  countCtest('C++ ASan+UBSan', r.stdout, r.status);
});
// A script that skips (exit 0, a line containing SKIPPED) where its tools or its
// architecture are missing outside CI: report its own reason and count one skip.
function reportSkip(title, r) {
  if (r.status !== 0 || !/SKIPPED/.test(r.stdout)) return false;
  const reason = /^.*SKIPPED.*$/m.exec(r.stdout)[0].trim();
  report.push(`${title}: skipped (${reason})`);
  totals.skipped += 1;
  return true;
}

// A script whose last word is a plain "N passed, M failed" line.
function countScript(title, r, what) {
  const m = /(\d+) passed, (\d+) failed/.exec(r.stdout);
  if (m && r.status === 0) {
    totals.passed += Number(m[1]);
    report.push(`${title}: ${m[1]} passed, 0 failed (${what})`);
  } else {
    totals.failed += 1;
    report.push(`${title}: FAILED (exit ${r.status})`);
  }
}

step('arm', () => {
  const r = run('C++ tests, arm64 under qemu', 'bash', ['scripts/test-arm.sh']);
  if (!reportSkip('C++ arm64', r)) countCtest('C++ arm64', r.stdout, r.status);
});
step('armjs', () => {
  const r = run('JS API on arm64 under qemu', 'bash', ['scripts/test-arm-js.sh']);
  if (!reportSkip('JS arm64 under qemu', r)) {
    countScript('JS arm64 under qemu', r, 'bit-identical to x64 on every level and thread count');
  }
});
step('jest', () => {
  if (!fs.existsSync(path.join(root, 'build', 'Release'))) {
    const r = run('node-gyp build (missing: npm install normally makes it)', 'npx', ['node-gyp', 'rebuild', '--jobs', '2']);
    if (r.status !== 0) { totals.failed += 1; report.push('node-gyp build failed'); return; }
  }
  runJest('jest, node-gyp build', { QKERNELS_ADDON: '', PREBUILDS_ONLY: '' });
});
step('cmake', () => {
  const r = run('cmake-js build', 'npx', ['cmake-js', 'build', '--out', 'build-cmake', '--parallel', '2']);
  if (r.status !== 0) { totals.failed += 1; report.push('cmake-js build failed'); return; }
  runJest('jest (binding suites), cmake-js build', { QKERNELS_ADDON: path.join(root, 'build-cmake', 'Release', 'qkernels.node'), PREBUILDS_ONLY: '' }, BINDING_SUITES);
});
step('prebuild', () => {
  const r = run('prebuildify', 'npm', ['run', 'prebuild']);
  if (r.status !== 0) { totals.failed += 1; report.push('prebuild failed'); return; }
  runJest('jest (binding suites), prebuilds/ only', { QKERNELS_ADDON: '', PREBUILDS_ONLY: '1', QKERNELS_EXPECT_PREBUILD: '1' }, BINDING_SUITES);
});

step('pack', () => {
  const r = run('npm tarball installed as a dependency', 'bash', ['scripts/test-pack.sh']);
  countScript('npm tarball', r, 'source build, and prebuild without compiling');
});

console.log('\n=== summary');
for (const line of report) console.log(`  ${line}`);
console.log(`qkernels: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed === 0 ? 0 : 1);
