// torchvision's quantized ResNet and ResNeXt (models/quantization/resnet.py) as converted: resnet18, resnet50, resnext101_32x8d.

import { nn } from '../nn';
import type { Module } from '../nn/module';
import type { QTensor } from '../qtensor';
import type { Tensor } from '../tensor';
import { GraphModule, Steps, call, compute, method } from './graph';
import { QFunctional, conv, dequantStub, flatten1, identity, linear, qfunctional, quantStub } from './layers';

export interface ResNetOptions {
  /** Classes of the final Linear (torchvision: 1000). */
  numClasses?: number;
}

/** QuantizableBasicBlock: two 3x3 convs, the residual added by `add_relu` (QFunctional.add_relu). */
class QuantizableBasicBlock extends GraphModule {
  static readonly expansion = 1;
  conv1: Module;
  bn1: Module;
  relu: Module;
  conv2: Module;
  bn2: Module;
  downsample: Module | null;
  add_relu: QFunctional;

  constructor(inplanes: number, planes: number, stride: number, downsample: Module | null) {
    super();
    this.conv1 = conv(inplanes, planes, 3, { stride, padding: 1 }, true);
    this.bn1 = identity();
    this.relu = identity();
    this.conv2 = conv(planes, planes, 3, { padding: 1 }, false);
    this.bn2 = identity();
    this.downsample = downsample;
    this.add_relu = qfunctional();
  }

  override getName(): string {
    return 'QuantizableBasicBlock';
  }

  protected *steps(x: QTensor): Steps<QTensor> {
    let out = yield call(this.conv1, x);
    out = yield call(this.conv2, out);
    const identityPath = this.downsample === null ? x : yield call(this.downsample, x);
    return yield method(this.add_relu, 'addRelu', out, identityPath);
  }
}

/** QuantizableBottleneck: 1x1, 3x3 (grouped for ResNeXt), 1x1, the residual added by `skip_add_relu`. */
class QuantizableBottleneck extends GraphModule {
  static readonly expansion = 4;
  conv1: Module;
  bn1: Module;
  conv2: Module;
  bn2: Module;
  conv3: Module;
  bn3: Module;
  relu: Module;
  downsample: Module | null;
  skip_add_relu: QFunctional;
  relu1: Module;
  relu2: Module;

  constructor(inplanes: number, planes: number, stride: number, downsample: Module | null, groups: number, baseWidth: number) {
    super();
    const width = Math.trunc(planes * (baseWidth / 64)) * groups;
    this.conv1 = conv(inplanes, width, 1, {}, true);
    this.bn1 = identity();
    this.conv2 = conv(width, width, 3, { stride, padding: 1, groups }, true);
    this.bn2 = identity();
    this.conv3 = conv(width, planes * QuantizableBottleneck.expansion, 1, {}, false);
    this.bn3 = identity();
    // torchvision's Bottleneck keeps its float `relu` (the quantizable forward does not use it).
    this.relu = new nn.ReLU();
    this.downsample = downsample;
    this.skip_add_relu = qfunctional();
    this.relu1 = identity();
    this.relu2 = identity();
  }

  override getName(): string {
    return 'QuantizableBottleneck';
  }

  protected *steps(x: QTensor): Steps<QTensor> {
    let out = yield call(this.conv1, x);
    out = yield call(this.conv2, out);
    out = yield call(this.conv3, out);
    const identityPath = this.downsample === null ? x : yield call(this.downsample, x);
    return yield method(this.skip_add_relu, 'addRelu', out, identityPath);
  }
}

type Block = typeof QuantizableBasicBlock | typeof QuantizableBottleneck;

/** QuantizableResNet: quant, the ResNet body with its residual adds, flatten, fc, dequant. */
export class QuantizableResNet extends GraphModule {
  conv1: Module;
  bn1: Module;
  relu: Module;
  maxpool: Module;
  layer1: Module;
  layer2: Module;
  layer3: Module;
  layer4: Module;
  avgpool: Module;
  fc: Module;
  quant: Module;
  dequant: Module;

  constructor(block: Block, layers: readonly number[], groups: number, widthPerGroup: number, options: ResNetOptions = {}) {
    super();
    this.conv1 = conv(3, 64, 7, { stride: 2, padding: 3 }, true);
    this.bn1 = identity();
    this.relu = identity();
    this.maxpool = new nn.MaxPool2d(3, { stride: 2, padding: 1 });
    let inplanes = 64;
    const makeLayer = (planes: number, blocks: number, stride: number): Module => {
      const out = planes * block.expansion;
      const downsample = stride !== 1 || inplanes !== out ? new nn.Sequential(conv(inplanes, out, 1, { stride }, false), identity()) : null;
      const modules: Module[] = [];
      for (let i = 0; i < blocks; i++) {
        const first = i === 0;
        const args: [number, number, number, Module | null] = [first ? inplanes : out, planes, first ? stride : 1, first ? downsample : null];
        modules.push(block === QuantizableBottleneck ? new QuantizableBottleneck(...args, groups, widthPerGroup) : new QuantizableBasicBlock(...args));
      }
      inplanes = out;
      return new nn.Sequential(...modules);
    };
    this.layer1 = makeLayer(64, layers[0], 1);
    this.layer2 = makeLayer(128, layers[1], 2);
    this.layer3 = makeLayer(256, layers[2], 2);
    this.layer4 = makeLayer(512, layers[3], 2);
    this.avgpool = new nn.AdaptiveAvgPool2d([1, 1]);
    this.fc = linear(512 * block.expansion, options.numClasses ?? 1000);
    this.quant = quantStub();
    this.dequant = dequantStub();
  }

  override getName(): string {
    return 'QuantizableResNet';
  }

  protected *steps(input: Tensor): Steps<Tensor> {
    let x: QTensor = yield call(this.quant, input);
    x = yield call(this.conv1, x);
    x = yield call(this.maxpool, x);
    for (const layer of [this.layer1, this.layer2, this.layer3, this.layer4]) x = yield call(layer, x);
    x = yield call(this.avgpool, x);
    x = yield compute(() => flatten1(x));
    x = yield call(this.fc, x);
    return yield call(this.dequant, x);
  }
}

/** torchvision.models.quantization.resnet18 (converted): load its quantized state dict with loadStateDict. */
export function resnet18(options?: ResNetOptions): QuantizableResNet {
  return new QuantizableResNet(QuantizableBasicBlock, [2, 2, 2, 2], 1, 64, options);
}

/** torchvision.models.quantization.resnet50 (converted). */
export function resnet50(options?: ResNetOptions): QuantizableResNet {
  return new QuantizableResNet(QuantizableBottleneck, [3, 4, 6, 3], 1, 64, options);
}

/** torchvision.models.quantization.resnext101_32x8d (converted). */
export function resnext101_32x8d(options?: ResNetOptions): QuantizableResNet {
  return new QuantizableResNet(QuantizableBottleneck, [3, 4, 23, 3], 32, 8, options);
}
