// A workload for valgrind (scripts/test-leak.sh): every binding entry point, sync, async and error paths, many times.
'use strict';
const path = require('path');
const q = require(path.join(__dirname, '..', '..'));

const x = q.tensor(Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i)), [64, 64]);
const scales = new Array(64).fill(0.01);

// One small model per family: linear/conv (prepacked handles, sync and async, dynamic),
// elementwise tables and arithmetic, pooling/normalization/resampling, embedding bags.
const img = q.quantizePerTensor(q.tensor(Float32Array.from({ length: 2 * 4 * 8 * 8 }, (_, i) => Math.cos(i)), [2, 4, 8, 8]), 0.02, 128, 'quint8');
const convWeight = q.quantizePerChannel(q.tensor(Float32Array.from({ length: 8 * 4 * 9 }, (_, i) => Math.sin(i) / 4), [8, 4, 3, 3]), new Array(8).fill(0.004), new Array(8).fill(0), 0, 'qint8');
const linearWeight = q.quantizePerTensor(q.tensor(Float32Array.from({ length: 16 * 64 }, (_, i) => Math.sin(i) / 4), [16, 64]), 0.004, 0, 'qint8');
async function families() {
  const conv = new q.nnq.Conv2d(4, 8, 3, { padding: 1 });
  conv.setWeightBias(convWeight, null);
  conv.scale = 0.05;
  conv.zeroPoint = 100;
  const y = await conv.forwardAsync(img);
  q.qF.convTranspose2d(y, q.quantizePerTensor(q.tensor(new Float32Array(8 * 2 * 4).fill(0.1), [8, 2, 2, 2]), 0.01, 0, 'qint8'), null, { stride: 2, scale: 0.1, zeroPoint: 10 });
  conv.weight(); conv.bias();
  const fc = new q.nnq.Linear(64, 16);
  fc.setWeightBias(linearWeight, q.tensor(new Float32Array(16).fill(0.5), [16]));
  await fc.forwardAsync(q.quantizePerTensor(x, 0.01, 128, 'quint8'));
  const dyn = new q.nnqd.Linear(64, 16);
  dyn.setWeightBias(linearWeight, null);
  await dyn.forwardAsync(x);
  q.qF.hardswish(img, 0.02, 128);
  q.ops.quantized.add(img, img, 0.04, 128);
  q.ops.quantized.cat([img, img], 1, 0.02, 128);
  q.ops.quantized.matmul(img, img, 0.5, 128);
  q.qF.maxPool2d(img, 2);
  q.qF.avgPool2d(img, 3, { padding: 1 });
  q.qF.adaptiveAvgPool2d(img, 3);
  q.qF.interpolate(img, { scaleFactor: 2, mode: 'bilinear' });
  new q.nnq.LayerNorm([8, 8], q.tensor(new Float32Array(64).fill(1), [8, 8]), q.tensor(new Float32Array(64), [8, 8]), 0.02, 128).forward(img);
  const bag = q.nnq.EmbeddingBag.fromFloat({ weight: q.tensor(Float32Array.from({ length: 100 * 16 }, (_, i) => Math.sin(i)), [100, 16]) }, { dtype: 'quint4x2' });
  await bag.forwardAsync(Int32Array.of(1, 5, 7, 99), Int32Array.of(0, 2));
  try { bag.forward(Int32Array.of(100), Int32Array.of(0)); } catch (e) { /* expected RangeError: index out of range */ }
  try { fc.forward(img); } catch (e) { /* expected RangeError: shape */ }
}

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
    await families();
  }
  console.log('leak workload: done');
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
