// What folding shufflenet's channel shuffle into a neighbouring step could save at most: a traced cat against the same cat followed by the shuffle's strided copy, in the same run.
// Usage: node bench/shuffle-copy.js [--min-time s] [--rounds n]
//
// shufflenet_v2's blocks end with cat then channel_shuffle (view, transpose, contiguous, view),
// which a traced plan records as a cat step and an elementwiseStridedCopy step. The difference
// between the two plans below is the copy's whole cost, an upper bound of what a fold of the copy
// into the cat (or into the next op) could gain; doc/trace.md compares it with the model's time.
// 1 thread, CPU-time clock (the process's user + system time), median of the rounds.
'use strict';

const os = require('os');
const { parseArgs, timeSync, median, fmt, fmtRatio, printTable } = require('./lib/common');
const q = require('..');

const { options } = parseArgs(process.argv.slice(2), { 'min-time': 'number', rounds: 'number' });
const minTime = options['min-time'] ?? 0.2;
const rounds = options.rounds ?? 7;

let seed = 7;
const floats = (n) => Float32Array.from({ length: n }, () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296) * 2 - 1);
const shuffle = (t) => {
  const [n, c, h, w] = t.shape;
  return t.view([n, 2, c / 2, h, w]).transpose(1, 2).contiguous().view([n, c, h, w]);
};

function main() {
  q.backend.setNumThreads(1);
  const cat = new q.nnq.QFunctional();
  cat.scale = 0.05;
  cat.zeroPoint = 60;
  const cpu = (os.cpus()[0] || {}).model || 'unknown';
  console.log(`\ncat vs cat + channel shuffle, traced, 1 thread, CPU time (CPU: ${cpu}; isa ${q.backend.info().isa}; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`);
  const rows = [];
  // shufflenet_v2_x0_5's stage sizes for 64x64 and 224x224 images (branch channels, spatial size).
  for (const [c, s] of [[24, 8], [48, 4], [96, 2], [24, 28], [48, 14], [96, 7]]) {
    const make = () => q.quantizePerTensor(q.tensor(floats(c * s * s), [1, c, s, s]), 0.04, 100, 'quint8');
    // As in a stride-1 block: one half NCHW (a chunk of the last shuffle), the other a conv's NHWC output.
    const a = make();
    const b = make().contiguous('channels_last');
    const plain = q.jit.trace((x, y) => cat.cat([x, y.contiguous()], 1), [a, b]);
    const shuffled = q.jit.trace((x, y) => shuffle(cat.cat([x, y.contiguous()], 1)), [a, b]);
    const t1 = [];
    const t2 = [];
    for (let r = 0; r < rounds; r++) {
      t1.push(timeSync(() => plain.forward(a, b), minTime, { clock: 'cpu' }) * 1e6);
      t2.push(timeSync(() => shuffled.forward(a, b), minTime, { clock: 'cpu' }) * 1e6);
    }
    const m1 = median(t1);
    const m2 = median(t2);
    rows.push([`2 x ${c}ch ${s}x${s}`, fmt(m1), fmt(m2), fmt(m2 - m1), fmtRatio(m2 / m1)]);
    plain.dispose();
    shuffled.dispose();
  }
  printTable(['branches', 'copy + cat us', '+ shuffle us', 'shuffle us', 'ratio'], rows);
}

main();
