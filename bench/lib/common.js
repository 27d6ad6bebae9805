// Shared helpers of the bench sections: command-line flags, timing runs, medians, number formats and plain-text tables.
'use strict';

const path = require('path');

const BENCH_DIR = path.resolve(__dirname, '..');
const ROOT_DIR = path.resolve(BENCH_DIR, '..');
// Everything the benchmark installs or generates (onnxruntime-node, models, weights, the peak binary); git-ignored.
const PEERS_DIR = path.join(BENCH_DIR, '.peers');

/**
 * Parses `--flag`, `--flag value` and `--flag=value` options. `spec` maps each known flag to
 * 'boolean', 'number' or 'string'; unknown flags and bad values throw.
 */
function parseArgs(argv, spec) {
  const options = {};
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      rest.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const type = spec[name];
    if (type === undefined) throw new Error(`unknown option --${name} (known: ${Object.keys(spec).map((k) => '--' + k).join(', ')})`);
    if (type === 'boolean') {
      if (eq >= 0) throw new Error(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    let value;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    else throw new Error(`--${name} needs a value`);
    if (type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a non-negative number, got ${value}`);
      options[name] = n;
    } else {
      options[name] = value;
    }
  }
  return { options, rest };
}

// The clocks a run can be timed with. 'wall' is elapsed time. 'cpu' is the CPU time of the whole
// process (user + system, all threads): on a shared machine it leaves out the time the process
// waits for a core, which wall time charges to whichever engine happened to be running. Only
// meaningful for single-threaded work (two busy threads count twice).
const CLOCKS = {
  wall: () => Number(process.hrtime.bigint()) / 1e9,
  cpu: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  },
};

function clockOf(name) {
  const clock = CLOCKS[name];
  if (!clock) throw new Error(`unknown clock ${name} (known: ${Object.keys(CLOCKS).join(', ')})`);
  return clock;
}

// Calls between two clock readings grow until a batch lasts this long, so that reading the
// clock (process.cpuUsage is a system call) adds nothing measurable to a call of a few µs.
const BATCH_SECONDS = 1e-3;

/**
 * Seconds per call of fn (sync) on `clock`: one warm-up call (unless warmUp is false), then
 * batches of calls until minTime has passed (at least one call).
 */
function timeSync(fn, minTime, { warmUp = true, clock = 'wall' } = {}) {
  const now = clockOf(clock);
  if (warmUp) fn();
  let calls = 0;
  let batch = 1;
  const start = now();
  for (;;) {
    const batchStart = calls === 0 ? start : now();
    for (let i = 0; i < batch; i++) fn();
    calls += batch;
    const end = now();
    if (end - start >= minTime) return (end - start) / calls;
    if (end - batchStart < BATCH_SECONDS) batch *= 2;
  }
}

/** timeSync for a function returning a Promise (each call awaited before the next). */
async function timeAsync(fn, minTime, { warmUp = true, clock = 'wall' } = {}) {
  const now = clockOf(clock);
  if (warmUp) await fn();
  let calls = 0;
  let batch = 1;
  const start = now();
  for (;;) {
    const batchStart = calls === 0 ? start : now();
    for (let i = 0; i < batch; i++) await fn();
    calls += batch;
    const end = now();
    if (end - start >= minTime) return (end - start) / calls;
    if (end - batchStart < BATCH_SECONDS) batch *= 2;
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A number with about 3 significant digits (1234, 123, 12.3, 1.23, 0.123). */
function fmt(x) {
  if (!Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');
const fmtPercent = (x) => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : '-');

/**
 * Collects long explanations (errors, skipped peers) as numbered notes, so table cells stay
 * short: cell(text) returns "n/a [k]" and print() lists the notes under the table.
 */
class Notes {
  constructor() {
    this.list = [];
  }
  ref(text) {
    let index = this.list.indexOf(text);
    if (index < 0) {
      this.list.push(text);
      index = this.list.length - 1;
    }
    return `[${index + 1}]`;
  }
  cell(text, prefix = 'n/a') {
    return `${prefix} ${this.ref(text)}`;
  }
  print(out = console.log) {
    this.list.forEach((text, i) => out(`  [${i + 1}] ${text}`));
  }
}

/** Prints rows (arrays of strings) under headers; first column left-aligned, the others right-aligned. */
function printTable(headers, rows, out = console.log) {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells) =>
    cells.map((cell, c) => (c === 0 ? String(cell ?? '').padEnd(widths[c]) : String(cell ?? '').padStart(widths[c]))).join('  ').trimEnd();
  out(line(headers));
  out(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) out(line(row));
}

module.exports = { BENCH_DIR, ROOT_DIR, PEERS_DIR, CLOCKS, parseArgs, timeSync, timeAsync, median, fmt, fmtRatio, fmtPercent, Notes, printTable };
