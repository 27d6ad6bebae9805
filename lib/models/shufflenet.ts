// torchvision's quantized ShuffleNet v2 (models/quantization/shufflenetv2.py) as converted: x0_5, x1_0, x1_5, x2_0.

import { nn } from '../nn';
import type { Module } from '../nn/module';
import type { QTensor } from '../qtensor';
import type { Tensor } from '../tensor';
import { GraphModule, Steps, call, compute, method } from './graph';
import { QFunctional, conv, dequantStub, identity, linear, qfunctional, quantStub } from './layers';

export interface ShuffleNetV2Options {
  /** Classes of the final Linear (torchvision: 1000). */
  numClasses?: number;
}

/** shufflenetv2.channel_shuffle: view as [N, groups, C / groups, H, W], swap dims 1 and 2, view back. */
export function channelShuffle(x: QTensor, groups: number): QTensor {
  const [n, c, h, w] = x.shape;
  return x.view([n, groups, c / groups, h, w]).transpose(1, 2).contiguous().view([n, c, h, w]);
}

/**
 * QuantizableInvertedResidual: stride 1 splits the channels in two (chunk) and transforms one
 * half; stride 2 transforms the input twice (branch1, branch2); `cat` joins, then channels shuffle.
 */
class QuantizableInvertedResidual extends GraphModule {
  stride: number;
  branch1: Module;
  branch2: Module;
  cat: QFunctional;

  constructor(inp: number, oup: number, stride: number) {
    super();
    this.stride = stride;
    const features = Math.trunc(oup / 2);
    // Fused as torchvision's fuse_model does: branch1 [[0, 1], [2, 3, 4]], branch2 [[0, 1, 2], [3, 4], [5, 6, 7]].
    this.branch1 = stride > 1
      ? new nn.Sequential(conv(inp, inp, 3, { stride, padding: 1, groups: inp }, false), identity(), conv(inp, features, 1, {}, true), identity(), identity())
      : new nn.Sequential();
    this.branch2 = new nn.Sequential(
      conv(stride > 1 ? inp : features, features, 1, {}, true), identity(), identity(),
      conv(features, features, 3, { stride, padding: 1, groups: features }, false), identity(),
      conv(features, features, 1, {}, true), identity(), identity(),
    );
    this.cat = qfunctional();
  }

  override getName(): string {
    return 'QuantizableInvertedResidual';
  }

  protected *steps(x: QTensor): Steps<QTensor> {
    let out: QTensor;
    if (this.stride === 1) {
      const [x1, x2] = x.chunk(2, 1);
      out = yield method(this.cat, 'cat', [x1, yield call(this.branch2, x2)], 1);
    } else {
      const left: QTensor = yield call(this.branch1, x);
      out = yield method(this.cat, 'cat', [left, yield call(this.branch2, x)], 1);
    }
    return yield compute(() => channelShuffle(out, 2));
  }
}

/** QuantizableShuffleNetV2: quant, conv1, maxpool, three stages, conv5, mean over H and W, fc, dequant. */
export class QuantizableShuffleNetV2 extends GraphModule {
  conv1: Module;
  maxpool: Module;
  stage2: Module;
  stage3: Module;
  stage4: Module;
  conv5: Module;
  fc: Module;
  quant: Module;
  dequant: Module;

  constructor(stagesRepeats: readonly number[], stagesOutChannels: readonly number[], options: ShuffleNetV2Options = {}) {
    super();
    let input = 3;
    let output = stagesOutChannels[0];
    this.conv1 = new nn.Sequential(conv(input, output, 3, { stride: 2, padding: 1 }, true), identity(), identity());
    input = output;
    this.maxpool = new nn.MaxPool2d(3, { stride: 2, padding: 1 });
    const stages: Module[] = [];
    for (let s = 0; s < 3; s++) {
      output = stagesOutChannels[s + 1];
      const blocks: Module[] = [new QuantizableInvertedResidual(input, output, 2)];
      for (let i = 1; i < stagesRepeats[s]; i++) blocks.push(new QuantizableInvertedResidual(output, output, 1));
      stages.push(new nn.Sequential(...blocks));
      input = output;
    }
    [this.stage2, this.stage3, this.stage4] = stages;
    output = stagesOutChannels[4];
    this.conv5 = new nn.Sequential(conv(input, output, 1, {}, true), identity(), identity());
    this.fc = linear(output, options.numClasses ?? 1000);
    this.quant = quantStub();
    this.dequant = dequantStub();
  }

  override getName(): string {
    return 'QuantizableShuffleNetV2';
  }

  protected *steps(input: Tensor): Steps<Tensor> {
    let x: QTensor = yield call(this.quant, input);
    for (const module of [this.conv1, this.maxpool, this.stage2, this.stage3, this.stage4, this.conv5]) x = yield call(module, x);
    x = yield compute(() => x.mean([2, 3]));
    x = yield call(this.fc, x);
    return yield call(this.dequant, x);
  }
}

/** torchvision.models.quantization.shufflenet_v2_x0_5 (converted). */
export function shufflenetV2X0_5(options?: ShuffleNetV2Options): QuantizableShuffleNetV2 {
  return new QuantizableShuffleNetV2([4, 8, 4], [24, 48, 96, 192, 1024], options);
}

/** torchvision.models.quantization.shufflenet_v2_x1_0 (converted). */
export function shufflenetV2X1_0(options?: ShuffleNetV2Options): QuantizableShuffleNetV2 {
  return new QuantizableShuffleNetV2([4, 8, 4], [24, 116, 232, 464, 1024], options);
}

/** torchvision.models.quantization.shufflenet_v2_x1_5 (converted). */
export function shufflenetV2X1_5(options?: ShuffleNetV2Options): QuantizableShuffleNetV2 {
  return new QuantizableShuffleNetV2([4, 8, 4], [24, 176, 352, 704, 1024], options);
}

/** torchvision.models.quantization.shufflenet_v2_x2_0 (converted). */
export function shufflenetV2X2_0(options?: ShuffleNetV2Options): QuantizableShuffleNetV2 {
  return new QuantizableShuffleNetV2([4, 8, 4], [24, 244, 488, 976, 2048], options);
}
