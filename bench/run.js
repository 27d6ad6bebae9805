// npm run bench: prints the machine header, then runs every bench/<section>.js (or the sections named) one after another, forwarding their output.
//
//   node bench/run.js [section ...] [--quick] [other flags, forwarded to every section]
// A section is a standalone node script in bench/ that prints its own tables and exits 0
// (linear-conv.js, embedding.js, ...). `--quick` is a smoke run with tiny iteration counts.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { BENCH_DIR } = require('./lib/common');
const { loadQkernels, isaLevels: qkIsaLevels } = require('./lib/qk');
const { PYTHON, pythonModuleVersion } = require('./peers/torch');
const { ORT_VERSION, installedVersion } = require('./peers/ort');

// Sections run in this order first, the others alphabetically after them.
const PREFERRED_ORDER = ['linear-conv', 'embedding'];

function sections() {
  const names = fs
    .readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.js') && f !== 'run.js')
    .map((f) => f.slice(0, -3));
  const rank = (n) => (PREFERRED_ORDER.includes(n) ? PREFERRED_ORDER.indexOf(n) : PREFERRED_ORDER.length);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function cpuModel() {
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => /^(model name|Model|CPU part)\s*:/.test(l));
    if (line) return line.split(':')[1].trim();
  } catch {
    // not Linux: os.cpus() below
  }
  return (os.cpus()[0] || {}).model || 'unknown';
}

/** ISA levels qkernels can run here, from the addon when it loads, else from the CPU flags. */
function isaLevels() {
  const { q, error } = loadQkernels();
  if (q) {
    const info = q.backend.info();
    return `${qkIsaLevels(q).join(', ')} (qkernels ${info.version}; CPU features: ${info.features.join(' ')})`;
  }
  let flags = '';
  try {
    flags = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^(flags|Features)\s*:(.*)$/m) || ['', '', ''])[2];
  } catch {
    // no /proc/cpuinfo: scalar only
  }
  const has = (f) => new RegExp(`\\b${f}\\b`).test(flags);
  const levels = ['scalar'];
  if (has('avx2') && has('fma')) levels.push('avx2');
  if (has('avx512f') && has('avx512bw') && has('avx512vl') && has('avx512_vnni')) levels.push('avx512vnni');
  if (has('asimd')) levels.push('neon');
  if (has('asimddp')) levels.push('neondot');
  return `${levels.join(', ')} (from /proc/cpuinfo; ${error})`;
}

function header() {
  const torch = pythonModuleVersion('torch');
  const onnx = pythonModuleVersion('onnx');
  const ort = installedVersion();
  const lines = [
    '# qkernels benchmark',
    `date         ${new Date().toISOString()}`,
    `cpu          ${cpuModel()} (${os.cpus().length} logical CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`,
    `isa levels   ${isaLevels()}`,
    `node         ${process.version} (${process.platform}-${process.arch})`,
    `torch        ${torch.version || 'unavailable: ' + torch.error} (${PYTHON})`,
    `onnx         ${onnx.version || 'unavailable: ' + onnx.error}`,
    `onnxruntime  onnxruntime-node ${ort || `${ORT_VERSION} (not installed yet: the linear-conv section installs it under bench/.peers)`}`,
  ];
  console.log(lines.join('\n'));
  console.log();
}

function main() {
  const all = sections();
  const chosen = [];
  const forwarded = [];
  for (const arg of process.argv.slice(2)) {
    if (!arg.startsWith('-') && all.includes(arg.replace(/\.js$/, ''))) chosen.push(arg.replace(/\.js$/, ''));
    else forwarded.push(arg);
  }
  if (forwarded.includes('--help')) {
    console.log(`usage: node bench/run.js [section ...] [--quick] [flags forwarded to the sections]\nsections: ${all.join(', ')}`);
    return 0;
  }
  header();
  const failed = [];
  for (const name of chosen.length ? chosen : all) {
    const started = Date.now();
    const r = spawnSync(process.execPath, [path.join(BENCH_DIR, `${name}.js`), ...forwarded], { stdio: 'inherit' });
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    if (r.status !== 0) {
      failed.push(name);
      console.log(`(section ${name} failed: ${r.signal || `exit code ${r.status}`}, after ${seconds} s)\n`);
    } else {
      console.log(`(section ${name}: ${seconds} s)\n`);
    }
  }
  if (failed.length) {
    console.log(`failed sections: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

process.exitCode = main();
