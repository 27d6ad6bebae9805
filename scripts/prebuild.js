// Builds this platform's prebuild with prebuildify, named so node-gyp-build and @electron/rebuild both find it.
//
// The file is prebuilds/<platform>-<arch>/node.napi[.armv8][.musl].node:
// @electron/rebuild looks for exactly `node.napi.node` (`node.napi.armv8.node`
// on arm64), so the glibc build carries no libc tag; a musl build is tagged,
// and node-gyp-build prefers the more specific musl file on musl systems and
// skips it on glibc ones.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const isMusl = process.platform === 'linux' && (fs.existsSync('/etc/alpine-release') ||
  !(process.report && process.report.getReport().header.glibcVersionRuntime));

const args = ['--napi', '--strip', '--name', 'node.napi', '--target', process.versions.node];
if (process.arch === 'arm64' || process.arch === 'arm') args.push('--tag-armv');
if (isMusl) args.push('--tag-libc');

const bin = require.resolve('prebuildify/bin.js', { paths: [root] });
console.log(`prebuildify ${args.join(' ')}`);
const result = spawnSync(process.execPath, [bin, ...args], {
  cwd: root,
  stdio: 'inherit',
  env: { JOBS: '2', ...process.env },
});
process.exit(result.status === null ? 1 : result.status);
