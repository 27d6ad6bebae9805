// A workload for valgrind (scripts/test-leak.sh): every binding entry point, sync, async and error paths, many times.
'use strict';
const path = require('path');
const q = require(path.join(__dirname, '..', '..'));

const x = q.tensor(Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i)), [64, 64]);
const scales = new Array(64).fill(0.01);
(async () => {
  for (let i = 0; i < 200; i++) {
    q.quantizePerTensor(x, 0.01, 128, 'quint8').dequantize();
    q.quantizePerTensor(x, 0.01, 7, 'quint4x2').dequantize();
    q.quantizePerChannel(x, scales, new Array(64).fill(3), 0, 'qint8').dequantize();
    q.quantizePerChannel(x, Float32Array.from(scales), new Float32Array(64).fill(0.5), 1, 'quint8').dequantize();
    q.quantizePerTensorDynamic(x, 'qint8', true);
    const y = await new q.nnq.Quantize(0.01, 3, 'quint8').forwardAsync(x);
    await new q.nnq.DeQuantize().forwardAsync(y);
    try { q.quantizePerTensor(x, -1, 0, 'quint8'); } catch (e) { /* expected RangeError */ }
    const module = new q.nnq.Quantize(0.01, 3, 'quint8');
    module.zeroPoint = 300; // rejected when forwardAsync validates, not by the setter
    await module.forwardAsync(x).then(() => { throw new Error('expected a rejection'); }, () => undefined);
  }
  console.log('leak workload: done');
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
