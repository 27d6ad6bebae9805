// torchvision's quantized MobileNet v2 and v3-Large (models/quantization/mobilenetv2.py, mobilenetv3.py) as converted.

import { nn, nnq } from '../nn';
import { Module } from '../nn/module';
import { markUncalibrated, requireOutputQParams } from '../observers/calibrate';
import type { QTensor } from '../qtensor';
import type { Tensor } from '../tensor';
import { GraphModule, Steps, call, compute, method } from './graph';
import { QFunctional, conv, dequantStub, flatten1, identity, linear, makeDivisible, qfunctional, quantStub } from './layers';

export interface MobileNetOptions {
  /** Classes of the final Linear (torchvision: 1000). */
  numClasses?: number;
}

type Activation = 'relu' | 'hardswish' | null;

/** nnq.Hardswish as a state dict leaves it: output qparams unknown until loaded or calibrated. */
function uncalibratedHardswish(): Module {
  const module = new nnq.Hardswish(1, 0);
  markUncalibrated(module);
  return module;
}

/**
 * torchvision.ops.Conv2dNormActivation after fusion: [0] the conv (ConvReLU2d when its
 * activation was a ReLU), [1] Identity (the BatchNorm), [2] Identity (the fused ReLU) or
 * nnq.Hardswish (not fused), absent without an activation.
 */
class Conv2dNormActivation extends nn.Sequential {
  constructor(inChannels: number, outChannels: number, kernelSize: number, stride: number, groups: number, activation: Activation, dilation = 1) {
    const padding = Math.trunc((kernelSize - 1) / 2) * dilation;
    const layers: Module[] = [conv(inChannels, outChannels, kernelSize, { stride, padding, groups, dilation }, activation === 'relu'), identity()];
    if (activation === 'relu') layers.push(identity());
    if (activation === 'hardswish') layers.push(uncalibratedHardswish());
    super(...layers);
  }

  override getName(): string {
    return 'Conv2dNormActivation';
  }
}

// ---- MobileNet v2 -------------------------------------------------------------------------------

/** mobilenetv2's QuantizableInvertedResidual: expand, depthwise, project; `skip_add` when shapes allow. */
class QuantizableInvertedResidualV2 extends GraphModule {
  stride: number;
  useResConnect: boolean;
  conv: Module;
  outChannels: number;
  skip_add: QFunctional;

  constructor(inp: number, oup: number, stride: number, expandRatio: number) {
    super();
    this.stride = stride;
    const hidden = Math.round(inp * expandRatio);
    this.useResConnect = stride === 1 && inp === oup;
    const layers: Module[] = [];
    if (expandRatio !== 1) layers.push(new Conv2dNormActivation(inp, hidden, 1, 1, 1, 'relu'));
    layers.push(new Conv2dNormActivation(hidden, hidden, 3, stride, hidden, 'relu'), conv(hidden, oup, 1, {}, false), identity());
    this.conv = new nn.Sequential(...layers);
    this.outChannels = oup;
    this.skip_add = qfunctional();
  }

  override getName(): string {
    return 'QuantizableInvertedResidual';
  }

  protected *steps(x: QTensor): Steps<QTensor> {
    const y: QTensor = yield call(this.conv, x);
    return this.useResConnect ? yield method(this.skip_add, 'add', x, y) : y;
  }
}

/** QuantizableMobileNetV2: quant, features, adaptive average pool, flatten, classifier, dequant. */
export class QuantizableMobileNetV2 extends GraphModule {
  features: Module;
  classifier: Module;
  quant: Module;
  dequant: Module;

  constructor(options: MobileNetOptions = {}) {
    super();
    const settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
    let input = makeDivisible(32, 8);
    const lastChannel = makeDivisible(1280, 8);
    const features: Module[] = [new Conv2dNormActivation(3, input, 3, 2, 1, 'relu')];
    for (const [t, c, n, s] of settings) {
      const output = makeDivisible(c, 8);
      for (let i = 0; i < n; i++) {
        features.push(new QuantizableInvertedResidualV2(input, output, i === 0 ? s : 1, t));
        input = output;
      }
    }
    features.push(new Conv2dNormActivation(input, lastChannel, 1, 1, 1, 'relu'));
    this.features = new nn.Sequential(...features);
    this.classifier = new nn.Sequential(new nnq.Dropout({ p: 0.2 }), linear(lastChannel, options.numClasses ?? 1000));
    this.quant = quantStub();
    this.dequant = dequantStub();
  }

  override getName(): string {
    return 'QuantizableMobileNetV2';
  }

  protected *steps(input: Tensor): Steps<Tensor> {
    let x: QTensor = yield call(this.quant, input);
    x = yield call(this.features, x);
    x = yield call(POOL_1X1, x);
    x = yield compute(() => flatten1(x));
    x = yield call(this.classifier, x);
    return yield call(this.dequant, x);
  }
}

// F.adaptive_avg_pool2d(x, (1, 1)) of mobilenet v2's forward: a functional, not a child module.
const POOL_1X1 = new nn.AdaptiveAvgPool2d([1, 1]);

// ---- MobileNet v3 -------------------------------------------------------------------------------

/** QuantizableSqueezeExcitation: x * hardsigmoid(fc2(relu(fc1(avgpool(x))))), the product by `skip_mul`. */
class QuantizableSqueezeExcitation extends GraphModule {
  avgpool: Module;
  fc1: Module;
  fc2: Module;
  activation: Module;
  scale_activation: Module;
  skip_mul: QFunctional;

  constructor(inputChannels: number, squeezeChannels: number) {
    super();
    this.avgpool = new nn.AdaptiveAvgPool2d(1);
    this.fc1 = conv(inputChannels, squeezeChannels, 1, {}, true);
    this.fc2 = conv(squeezeChannels, inputChannels, 1, {}, false);
    this.activation = identity();
    this.scale_activation = new nn.Hardsigmoid();
    this.skip_mul = qfunctional();
  }

  override getName(): string {
    return 'QuantizableSqueezeExcitation';
  }

  protected *steps(x: QTensor): Steps<QTensor> {
    let scale: QTensor = yield call(this.avgpool, x);
    scale = yield call(this.fc1, scale);
    scale = yield call(this.fc2, scale);
    scale = yield call(this.scale_activation, scale);
    return yield method(this.skip_mul, 'mul', scale, x);
  }
}

/** mobilenetv3's QuantizableInvertedResidual: `block` (expand, depthwise, squeeze-excite, project), `skip_add`. */
class QuantizableInvertedResidualV3 extends GraphModule {
  useResConnect: boolean;
  block: Module;
  outChannels: number;
  skip_add: QFunctional;

  constructor(input: number, kernel: number, expanded: number, out: number, useSe: boolean, activation: Activation, stride: number, dilation: number) {
    super();
    this.useResConnect = stride === 1 && input === out;
    const layers: Module[] = [];
    if (expanded !== input) layers.push(new Conv2dNormActivation(input, expanded, 1, 1, 1, activation));
    layers.push(new Conv2dNormActivation(expanded, expanded, kernel, dilation > 1 ? 1 : stride, expanded, activation, dilation));
    if (useSe) layers.push(new QuantizableSqueezeExcitation(expanded, makeDivisible(Math.trunc(expanded / 4), 8)));
    layers.push(new Conv2dNormActivation(expanded, out, 1, 1, 1, null));
    this.block = new nn.Sequential(...layers);
    this.outChannels = out;
    this.skip_add = qfunctional();
  }

  override getName(): string {
    return 'QuantizableInvertedResidual';
  }

  protected *steps(x: QTensor): Steps<QTensor> {
    const y: QTensor = yield call(this.block, x);
    return this.useResConnect ? yield method(this.skip_add, 'add', x, y) : y;
  }
}

/** QuantizableMobileNetV3 (large): quant, features, avgpool, flatten, classifier, dequant. */
export class QuantizableMobileNetV3 extends GraphModule {
  features: Module;
  avgpool: Module;
  classifier: Module;
  quant: Module;
  dequant: Module;

  constructor(options: MobileNetOptions = {}) {
    super();
    const RE = 'relu';
    const HS = 'hardswish';
    // torchvision's _mobilenet_v3_conf('mobilenet_v3_large'): input, kernel, expanded, out, SE, activation, stride, dilation.
    const settings: Array<[number, number, number, number, boolean, Activation, number, number]> = [
      [16, 3, 16, 16, false, RE, 1, 1], [16, 3, 64, 24, false, RE, 2, 1], [24, 3, 72, 24, false, RE, 1, 1],
      [24, 5, 72, 40, true, RE, 2, 1], [40, 5, 120, 40, true, RE, 1, 1], [40, 5, 120, 40, true, RE, 1, 1],
      [40, 3, 240, 80, false, HS, 2, 1], [80, 3, 200, 80, false, HS, 1, 1], [80, 3, 184, 80, false, HS, 1, 1],
      [80, 3, 184, 80, false, HS, 1, 1], [80, 3, 480, 112, true, HS, 1, 1], [112, 3, 672, 112, true, HS, 1, 1],
      [112, 5, 672, 160, true, HS, 2, 1], [160, 5, 960, 160, true, HS, 1, 1], [160, 5, 960, 160, true, HS, 1, 1],
    ];
    const lastChannel = 1280;
    const features: Module[] = [new Conv2dNormActivation(3, settings[0][0], 3, 2, 1, HS)];
    for (const setting of settings) features.push(new QuantizableInvertedResidualV3(...setting));
    const lastIn = settings[settings.length - 1][3];
    features.push(new Conv2dNormActivation(lastIn, 6 * lastIn, 1, 1, 1, HS));
    this.features = new nn.Sequential(...features);
    this.avgpool = new nn.AdaptiveAvgPool2d(1);
    this.classifier = new nn.Sequential(linear(6 * lastIn, lastChannel), uncalibratedHardswish(), new nnq.Dropout({ p: 0.2, inplace: true }), linear(lastChannel, options.numClasses ?? 1000));
    this.quant = quantStub();
    this.dequant = dequantStub();
  }

  override getName(): string {
    return 'QuantizableMobileNetV3';
  }

  protected *steps(input: Tensor): Steps<Tensor> {
    requireOutputQParams(this);
    let x: QTensor = yield call(this.quant, input);
    x = yield call(this.features, x);
    x = yield call(this.avgpool, x);
    x = yield compute(() => flatten1(x));
    x = yield call(this.classifier, x);
    return yield call(this.dequant, x);
  }
}

/** torchvision.models.quantization.mobilenet_v2 (converted). */
export function mobilenetV2(options?: MobileNetOptions): QuantizableMobileNetV2 {
  return new QuantizableMobileNetV2(options);
}

/**
 * torchvision.models.quantization.mobilenet_v3_large (converted). Its 21 nnq.Hardswish keep
 * their output qparams outside the state dict: load a TorchScript archive, or calibrate them
 * (observers.calibrate) after loadStateDict; until then forward throws naming the module.
 */
export function mobilenetV3Large(options?: MobileNetOptions): QuantizableMobileNetV3 {
  return new QuantizableMobileNetV3(options);
}
