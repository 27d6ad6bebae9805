// Weights loading: qkernels' load() of a ~45 MB torch.save checkpoint against reading the file and against torch.load, and peak memory against the file size.
//
//   node bench/load.js [--quick] [--rounds N] [--mb SIZE] [--file PATH]
// Without --file, torch writes a synthetic checkpoint shaped like a converted quantized CNN
// (per-channel qint8 conv weights, float biases, BN buffers, scale/zero_point scalars) of
// about --mb megabytes into a temp dir. Times are medians over --rounds, page cache warm.
// Times are wall and CPU (user + system of the process; on a busy machine CPU time leaves out
// waiting for a core). Peak memory is measured in a fresh node process: its peak RSS (getrusage maxrss) minus its
// RSS just before load(), against the file size.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ROOT_DIR, parseArgs, median, fmt, fmtRatio, printTable } = require('./lib/common');
const { PYTHON } = require('./peers/torch');

const { options } = parseArgs(process.argv.slice(2), { quick: 'boolean', rounds: 'number', mb: 'number', file: 'string', help: 'boolean' });
if (options.help) {
  console.log('usage: node bench/load.js [--quick] [--rounds N] [--mb SIZE] [--file PATH]');
  process.exit(0);
}
const rounds = options.rounds ?? (options.quick ? 2 : 9);
const megabytes = options.mb ?? (options.quick ? 4 : 45);

const MAKE_CHECKPOINT = `
import sys, torch
target, path = int(float(sys.argv[1]) * 1e6), sys.argv[2]
torch.manual_seed(0)
sd, total, i = {}, 0, 0
shapes = [(64, 64, 3, 3), (256, 64, 1, 1), (128, 128, 3, 3), (512, 128, 1, 1), (256, 256, 3, 3), (1024, 256, 1, 1), (512, 512, 3, 3), (2048, 512, 1, 1)]
while total < target:
    shape = shapes[i % len(shapes)]
    w = torch.randn(shape)
    scales = w.abs().amax(dim=(1, 2, 3)).double() / 127 + 1e-6
    p = 'layer%d.%d.' % (i // len(shapes), i % len(shapes))
    sd[p + 'conv.weight'] = torch.quantize_per_channel(w, scales, torch.zeros(shape[0], dtype=torch.long), 0, torch.qint8)
    sd[p + 'conv.bias'] = torch.randn(shape[0])
    sd[p + 'conv.scale'] = torch.tensor(0.05)
    sd[p + 'conv.zero_point'] = torch.tensor(0)
    for name in ('weight', 'bias', 'running_mean', 'running_var'):
        sd[p + 'bn.' + name] = torch.randn(shape[0])
    sd[p + 'bn.num_batches_tracked'] = torch.tensor(100)
    total += w.numel() + 8 * shape[0] * 4 + 16 * shape[0]
    i += 1
torch.save(sd, path)
`;

const TIME_TORCH_LOAD = `
import sys, time, torch
path, rounds = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(1)
wall, cpu = [], []
torch.load(path)
for _ in range(rounds):
    t0, c0 = time.perf_counter(), time.process_time()
    sd = torch.load(path)
    wall.append(time.perf_counter() - t0); cpu.append(time.process_time() - c0)
    del sd
wall.sort(); cpu.sort()
print(wall[len(wall) // 2], cpu[len(cpu) // 2])
`;

const PEAK_RSS = `
const { load } = require(${JSON.stringify(path.join(ROOT_DIR, 'dist'))});
const before = process.memoryUsage().rss;
const t0 = process.hrtime.bigint();
const sd = load(process.argv[1]);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
let bytes = 0;
for (const v of sd.values()) if (v && v.data) bytes += v.data.byteLength;
console.log(JSON.stringify({ before, peak: process.resourceUsage().maxRSS * 1024, keys: sd.size, bytes, seconds }));
`;

function python(script, args) {
  const child = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (child.status !== 0) throw new Error(`${PYTHON} failed: ${child.stderr || child.error}`);
  return child.stdout.trim();
}

/** Wall and CPU time medians of each function, measured interleaved round by round (a busy machine slows all of them alike). */
function timeInterleaved(fns) {
  const wall = fns.map(() => []);
  const cpu = fns.map(() => []);
  fns.forEach((fn) => fn());
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, i) => {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      fn();
      wall[i].push(Number(process.hrtime.bigint() - t0) / 1e9);
      const c = process.cpuUsage(c0);
      cpu[i].push((c.user + c.system) / 1e6);
    });
  }
  return fns.map((_, i) => ({ wall: median(wall[i]), cpu: median(cpu[i]) }));
}

function main() {
  const { load } = require(path.join(ROOT_DIR, 'dist'));
  let file = options.file;
  let tmp = null;
  if (file === undefined) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkernels-bench-load-'));
    file = path.join(tmp, 'checkpoint.pt');
    python(MAKE_CHECKPOINT, [String(megabytes), file]);
  }
  try {
    const size = fs.statSync(file).size;
    const [read, loaded] = timeInterleaved([() => fs.readFileSync(file), () => load(file)]);
    const [torchWall, torchCpu] = python(TIME_TORCH_LOAD, [file, String(rounds)]).split(' ').map(Number);
    const torchLoad = { wall: torchWall, cpu: torchCpu };
    const memory = spawnSync(process.execPath, ['-e', PEAK_RSS, file], { encoding: 'utf8' });
    if (memory.status !== 0) throw new Error(`peak RSS child failed: ${memory.stderr}`);
    const { before, peak, keys, seconds: cold } = JSON.parse(memory.stdout);
    const mb = (bytes) => `${fmt(bytes / 1e6)} MB`;
    console.log(`## Loading weights: ${path.basename(file)}, ${mb(size)}, ${keys} keys; median of ${rounds} rounds, page cache warm\n`);
    printTable(
      ['step', 'wall (ms)', 'vs read', 'CPU (ms)', 'vs read'],
      [
        ['fs.readFileSync (the read time)', fmt(read.wall * 1e3), '1.00x', fmt(read.cpu * 1e3), '1.00x'],
        ['qkernels load()', fmt(loaded.wall * 1e3), fmtRatio(loaded.wall / read.wall), fmt(loaded.cpu * 1e3), fmtRatio(loaded.cpu / read.cpu)],
        ['qkernels load(), first call in a fresh process', fmt(cold * 1e3), fmtRatio(cold / read.wall), '', ''],
        ['torch.load (1 thread)', fmt(torchLoad.wall * 1e3), fmtRatio(torchLoad.wall / read.wall), fmt(torchLoad.cpu * 1e3), fmtRatio(torchLoad.cpu / read.cpu)],
      ],
    );
    console.log('');
    printTable(
      ['memory (fresh node process)', 'MB', 'vs file size'],
      [
        ['RSS before load()', fmt(before / 1e6), ''],
        ['peak RSS', fmt(peak / 1e6), ''],
        ['peak RSS - RSS before', fmt((peak - before) / 1e6), fmtRatio((peak - before) / size)],
      ],
    );
    console.log(`\nGoals (issue 9): load() <= 1.5x the read time, peak RSS growth <= 1.3x the file size. qkernels load() vs torch.load: ${fmtRatio(loaded.wall / torchLoad.wall)} wall.`);
  } finally {
    if (tmp !== null) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main();
