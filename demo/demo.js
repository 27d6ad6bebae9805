// `npm run demo`: classifies a sample image with a real torchvision architecture (quantized ShuffleNet v2 x0.5) loaded from a PyTorch weights file.
//
// demo/assets/ holds what scripts/zoo/make_demo_assets.py wrote with PyTorch: the state dict of
// torchvision's quantized shufflenet_v2_x0_5 (random weights, calibrated and converted: no
// pretrained weights are downloaded, so the predicted classes are arbitrary), a sample PNG,
// ImageNet's class names and PyTorch's own top-5 for the image. No Python runs here.
'use strict';

const fs = require('fs');
const path = require('path');
const { backend, image, jit, load, models } = require('..');

const ASSETS = path.join(__dirname, 'assets');
const WEIGHTS = path.join(ASSETS, 'shufflenet_v2_x0_5_quantized.pth');
const SAMPLE = path.join(ASSETS, 'sample.png');

async function main() {
  // The weights were converted under torch's onednn engine; reproduce its arithmetic (torchvision's
  // published weights are fbgemm's, qkernels' default engine).
  backend.setQuantizedEngine('onednn');
  const info = backend.info();
  console.log(`qkernels ${info.version}: ${info.isa} kernels, ${info.threads} thread(s), ${backend.quantizedEngine()} arithmetic`);

  const started = process.hrtime.bigint();
  const net = models.quantization.shufflenetV2X0_5();
  net.loadStateDict(load(WEIGHTS));
  const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`loaded ${path.relative(process.cwd(), WEIGHTS)} (${(fs.statSync(WEIGHTS).size / 1e6).toFixed(1)} MB) into models.quantization.shufflenetV2X0_5() in ${loadMs.toFixed(0)} ms`);

  const pixels = await image.decodeImage(SAMPLE);
  const input = image.classificationTransform(pixels); // resize 256, center crop 224, normalize: [1, 3, 224, 224]
  console.log(`image ${path.relative(process.cwd(), SAMPLE)}: ${pixels.width}x${pixels.height} -> input [${input.shape.join(', ')}]`);

  const logits = net.forward(input).contiguous().data;
  const classes = JSON.parse(fs.readFileSync(path.join(ASSETS, 'imagenet_classes.json'), 'utf8'));
  const top5 = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b).slice(0, 5);
  console.log('\ntop-5 (random weights: the classes are arbitrary):');
  for (const i of top5) console.log(`  ${logits[i].toFixed(4).padStart(8)}  ${String(i).padStart(3)} ${classes[i]}`);
  const expected = JSON.parse(fs.readFileSync(path.join(ASSETS, 'expected.json'), 'utf8'));
  const torchTop1 = expected.top5[0][0];
  const torchTop5 = expected.top5.map(([i, v]) => `${i} (${v.toFixed(4)})`).join(', ');
  console.log(`PyTorch ${expected.torch} (${expected.engine}) on the same image: ${torchTop5}; top-1 ${torchTop1 === top5[0] ? 'the same' : 'differs'}`);
  console.log('  (torchvision\'s bilinear resize rounds a few pixels differently, and ShuffleNet\'s mean rounds differently at ties, so logits may differ by a few quanta: doc/models.md)');

  const runs = 20;
  await net.forwardAsync(input); // warm-up: first-touch of the packed weights and scratch buffers
  let t = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) net.forward(input);
  const syncMs = Number(process.hrtime.bigint() - t) / 1e6 / runs;
  t = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) await net.forwardAsync(input);
  const asyncMs = Number(process.hrtime.bigint() - t) / 1e6 / runs;
  console.log(`\ntime per image (224x224, batch 1, ${runs} runs): forward ${syncMs.toFixed(1)} ms, forwardAsync ${asyncMs.toFixed(1)} ms`);

  // The same network as one native plan (doc/trace.md): forward is one N-API call, forwardAsync
  // one job off the event loop instead of one per op, with the eager forward's bits.
  const traced = jit.trace(net, input);
  const tracedLogits = traced.forward(input).contiguous().data;
  const same = tracedLogits.length === logits.length && tracedLogits.every((v, i) => Object.is(v, logits[i]));
  if (!same) throw new Error('jit.trace plan differs from the eager forward');
  await traced.forwardAsync(input);
  t = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) traced.forward(input);
  const tracedMs = Number(process.hrtime.bigint() - t) / 1e6 / runs;
  t = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) await traced.forwardAsync(input);
  const tracedAsyncMs = Number(process.hrtime.bigint() - t) / 1e6 / runs;
  console.log(`jit.trace(net, input), the same logits bit for bit: forward ${tracedMs.toFixed(1)} ms, forwardAsync ${tracedAsyncMs.toFixed(1)} ms`);
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
