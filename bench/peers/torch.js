// PyTorch peer driver: one long-lived /usr/bin/python3 torch_bench.py --serve worker per engine configuration, so runs interleave with the other engines.
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

// Debian's interpreter with python3-torch and python3-onnx (`python3` on PATH may be another one).
const PYTHON = process.env.QK_BENCH_PYTHON || '/usr/bin/python3';
const SCRIPT = path.join(__dirname, 'torch_bench.py');

/** A reason why PYTHON cannot run the peers, or null. */
function pythonProblem() {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} not found (install Debian's python3, python3-torch and python3-onnx, or set QK_BENCH_PYTHON)`;
  return null;
}

/** `import <module>; print(<module>.__version__)` with PYTHON, or { error }. */
function pythonModuleVersion(module) {
  const problem = pythonProblem();
  if (problem) return { error: problem };
  const r = spawnSync(PYTHON, ['-c', `import ${module}; print(${module}.__version__)`], { encoding: 'utf8' });
  if (r.status !== 0) {
    const last = (r.stderr || '').trim().split('\n').pop();
    return { error: `${PYTHON} cannot import ${module}: ${last} (apt-get install python3-${module})` };
  }
  return { version: r.stdout.trim() };
}

class TorchWorker {
  /** engine: 'onednn' | 'qnnpack'; env: extra environment (DNNL_MAX_CPU_ISA); script: another peer speaking the same protocol (bench/peers/torch_models.py). */
  constructor(engine, { env = {}, threads = 1, script = SCRIPT } = {}) {
    this.engine = engine;
    this.pending = [];
    this.dead = null;
    this.stderr = '';
    this.child = spawn(PYTHON, [script, '--engine', engine, '--threads', String(threads), '--serve'], {
      env: { ...process.env, OMP_NUM_THREADS: String(threads), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin.on('error', () => {}); // a dead worker is reported through 'exit'
    this.child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    this.child.on('error', (e) => this.fail(`cannot start ${PYTHON}: ${e.message}`));
    this.child.on('exit', (code, signal) => {
      const last = this.stderr.trim().split('\n').pop() || '';
      this.fail(`torch worker (${engine}) exited (${signal || code})${last ? ': ' + last : ''}`);
    });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.pending.shift();
      if (!waiter) return;
      try {
        waiter.resolve(JSON.parse(line));
      } catch (e) {
        waiter.resolve({ ok: false, error: `bad reply from torch worker: ${line.slice(0, 200)}` });
      }
    });
  }

  fail(message) {
    if (!this.dead) this.dead = message;
    for (const waiter of this.pending.splice(0)) waiter.resolve({ ok: false, error: this.dead });
  }

  /** Sends one request; resolves with the reply ({ ok, ... } or { ok: false, error }). Never rejects. */
  request(message) {
    if (this.dead) return Promise.resolve({ ok: false, error: this.dead });
    return new Promise((resolve) => {
      this.pending.push({ resolve });
      this.child.stdin.write(JSON.stringify(message) + '\n');
    });
  }

  close() {
    if (this.dead) return;
    this.dead = 'closed';
    this.child.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n');
  }
}

module.exports = { PYTHON, TorchWorker, pythonProblem, pythonModuleVersion };
