// onnxruntime peer: installs onnxruntime-node (pinned) under bench/.peers for the benchmark only, loads it, and runs single-threaded sessions.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { PEERS_DIR } = require('../lib/common');

// Pinned so that every run measures the same peer. The npm tarball carries the CPU binaries
// (bin/napi-v6/<platform>/<arch>/), so `--ignore-scripts` installs it without any download
// beyond the registry (its install script only fetches optional CUDA/TensorRT providers).
const ORT_VERSION = '1.30.0';
const ORT_DIR = path.join(PEERS_DIR, 'node_modules', 'onnxruntime-node');

function installedVersion() {
  try {
    return JSON.parse(fs.readFileSync(path.join(ORT_DIR, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

function install(log) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const args = ['install', '--prefix', PEERS_DIR, '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund',
    `onnxruntime-node@${ORT_VERSION}`];
  log(`installing the onnxruntime peer: ${npm} ${args.join(' ')}`);
  fs.mkdirSync(PEERS_DIR, { recursive: true });
  const r = spawnSync(npm, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32' });
  if (r.status !== 0) return `npm install failed: ${((r.stderr || '') + (r.error ? r.error.message : '')).trim().split('\n').pop()}`;
  return null;
}

/** The prebuilt binding for this platform inside the installed package, or null. */
function bindingPath() {
  const bin = path.join(ORT_DIR, 'bin');
  if (!fs.existsSync(bin)) return null;
  for (const napi of fs.readdirSync(bin)) {
    const p = path.join(bin, napi, process.platform, process.arch, 'onnxruntime_binding.node');
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/**
 * { ort, version } or { error }. Installs the pinned version when missing (allowInstall);
 * any other installed version is replaced.
 */
function loadOrt({ allowInstall = true, log = console.log } = {}) {
  if (installedVersion() !== ORT_VERSION) {
    if (!allowInstall) return { error: `onnxruntime-node@${ORT_VERSION} is not installed under ${PEERS_DIR} (run without --no-install)` };
    const problem = install(log);
    if (problem) return { error: problem };
  }
  if (!bindingPath()) {
    return { error: `onnxruntime-node@${ORT_VERSION} has no prebuilt binary for ${process.platform}-${process.arch} in its npm tarball` };
  }
  try {
    return { ort: require(ORT_DIR), version: installedVersion() };
  } catch (e) {
    return { error: `onnxruntime-node cannot load: ${e.message.split('\n')[0]}` };
  }
}

/** A session over one model file, single-threaded, every graph optimization on. */
async function createSession(ort, file) {
  return ort.InferenceSession.create(file, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

module.exports = { ORT_VERSION, loadOrt, createSession, installedVersion };
