// torchvision's quantized GoogLeNet and Inception v3 (models/quantization/googlenet.py, inception.py) as converted, without aux heads.

import { nn, nnq, qF } from '../nn';
import type { Module } from '../nn/module';
import type { QTensor } from '../qtensor';
import type { Tensor } from '../tensor';
import { GraphModule, Steps, call, compute, method } from './graph';
import { QFunctional, conv, dequantStub, flatten1, identity, linear, qfunctional, quantStub, transformInput } from './layers';

export interface InceptionOptions {
  /** Classes of the final Linear (torchvision: 1000). */
  numClasses?: number;
  /**
   * Normalize the input as the TensorFlow-trained weights expect (torchvision's
   * transform_input); default true, as torchvision sets it for its published quantized weights.
   */
  transformInput?: boolean;
}

type Kernel = number | [number, number];

/** QuantizableBasicConv2d after fusion: conv (ConvReLU2d), bn and relu (Identity). */
class QuantizableBasicConv2d extends GraphModule {
  conv: Module;
  bn: Module;
  relu: Module;

  constructor(inChannels: number, outChannels: number, kernelSize: Kernel, stride: number | [number, number] = 1, padding: number | [number, number] = 0) {
    super();
    this.conv = conv(inChannels, outChannels, kernelSize, { stride, padding }, true);
    this.bn = identity();
    this.relu = identity();
  }

  override getName(): string {
    return 'QuantizableBasicConv2d';
  }

  protected *steps(x: QTensor): Steps<QTensor> {
    return yield call(this.conv, x);
  }
}

const basic = (i: number, o: number, k: Kernel, stride: number | [number, number] = 1, padding: number | [number, number] = 0): QuantizableBasicConv2d =>
  new QuantizableBasicConv2d(i, o, k, stride, padding);

/** A chain of modules run in order, inside a forward. */
function* chain(modules: Module[], x: QTensor): Steps<QTensor> {
  for (const module of modules) x = yield call(module, x);
  return x;
}

/** F.avg_pool2d(x, 3, stride=1, padding=1) of the Inception v3 blocks. */
const avgPool3 = (x: QTensor) => compute(() => qF.avgPool2d(x, 3, { stride: 1, padding: 1 }));
/** F.max_pool2d(x, 3, stride=2) of Inception v3's reduction blocks. */
const maxPool3s2 = (x: QTensor) => compute(() => qF.maxPool2d(x, 3, { stride: 2 }));

// ---- GoogLeNet ----------------------------------------------------------------------------------

/** QuantizableInception: four branches (1x1; 1x1-3x3; 1x1-3x3; pool-1x1), joined by `cat`. */
class QuantizableInception extends GraphModule {
  branch1: Module;
  branch2: Module;
  branch3: Module;
  branch4: Module;
  cat: QFunctional;

  constructor(inChannels: number, ch1x1: number, ch3x3red: number, ch3x3: number, ch5x5red: number, ch5x5: number, poolProj: number) {
    super();
    this.branch1 = basic(inChannels, ch1x1, 1);
    this.branch2 = new nn.Sequential(basic(inChannels, ch3x3red, 1), basic(ch3x3red, ch3x3, 3, 1, 1));
    // torchvision's "5x5" branch uses a 3x3 kernel (a known quirk kept for its weights).
    this.branch3 = new nn.Sequential(basic(inChannels, ch5x5red, 1), basic(ch5x5red, ch5x5, 3, 1, 1));
    this.branch4 = new nn.Sequential(new nn.MaxPool2d(3, { stride: 1, padding: 1, ceilMode: true }), basic(inChannels, poolProj, 1));
    this.cat = qfunctional();
  }

  override getName(): string {
    return 'QuantizableInception';
  }

  protected *steps(x: QTensor): Steps<QTensor> {
    const outputs: QTensor[] = [];
    for (const branch of [this.branch1, this.branch2, this.branch3, this.branch4]) outputs.push(yield call(branch, x));
    return yield method(this.cat, 'cat', outputs, 1);
  }
}

/** QuantizableGoogLeNet (aux_logits=False, as converted for inference). */
export class QuantizableGoogLeNet extends GraphModule {
  transformInput: boolean;
  conv1: Module;
  maxpool1: Module;
  conv2: Module;
  conv3: Module;
  maxpool2: Module;
  inception3a: Module;
  inception3b: Module;
  maxpool3: Module;
  inception4a: Module;
  inception4b: Module;
  inception4c: Module;
  inception4d: Module;
  inception4e: Module;
  maxpool4: Module;
  inception5a: Module;
  inception5b: Module;
  avgpool: Module;
  dropout: Module;
  fc: Module;
  quant: Module;
  dequant: Module;

  constructor(options: InceptionOptions = {}) {
    super();
    this.transformInput = options.transformInput ?? true;
    const ceilPool = (k: number, s: number) => new nn.MaxPool2d(k, { stride: s, ceilMode: true });
    this.conv1 = basic(3, 64, 7, 2, 3);
    this.maxpool1 = ceilPool(3, 2);
    this.conv2 = basic(64, 64, 1);
    this.conv3 = basic(64, 192, 3, 1, 1);
    this.maxpool2 = ceilPool(3, 2);
    this.inception3a = new QuantizableInception(192, 64, 96, 128, 16, 32, 32);
    this.inception3b = new QuantizableInception(256, 128, 128, 192, 32, 96, 64);
    this.maxpool3 = ceilPool(3, 2);
    this.inception4a = new QuantizableInception(480, 192, 96, 208, 16, 48, 64);
    this.inception4b = new QuantizableInception(512, 160, 112, 224, 24, 64, 64);
    this.inception4c = new QuantizableInception(512, 128, 128, 256, 24, 64, 64);
    this.inception4d = new QuantizableInception(512, 112, 144, 288, 32, 64, 64);
    this.inception4e = new QuantizableInception(528, 256, 160, 320, 32, 128, 128);
    this.maxpool4 = ceilPool(2, 2);
    this.inception5a = new QuantizableInception(832, 256, 160, 320, 32, 128, 128);
    this.inception5b = new QuantizableInception(832, 384, 192, 384, 48, 128, 128);
    this.avgpool = new nn.AdaptiveAvgPool2d([1, 1]);
    this.dropout = new nnq.Dropout({ p: 0.2 });
    this.fc = linear(1024, options.numClasses ?? 1000);
    this.quant = quantStub();
    this.dequant = dequantStub();
  }

  override getName(): string {
    return 'QuantizableGoogLeNet';
  }

  protected *steps(input: Tensor): Steps<Tensor> {
    const source = this.transformInput ? yield compute(() => transformInput(input)) : input;
    let x: QTensor = yield call(this.quant, source);
    x = yield* chain([
      this.conv1, this.maxpool1, this.conv2, this.conv3, this.maxpool2, this.inception3a, this.inception3b, this.maxpool3,
      this.inception4a, this.inception4b, this.inception4c, this.inception4d, this.inception4e, this.maxpool4,
      this.inception5a, this.inception5b, this.avgpool,
    ], x);
    x = yield compute(() => flatten1(x));
    x = yield call(this.dropout, x);
    x = yield call(this.fc, x);
    return yield call(this.dequant, x);
  }
}

// ---- Inception v3 -------------------------------------------------------------------------------

/** A block whose branches are chains of children (by name) or a pool then a chain; `myop.cat` joins them. */
abstract class InceptionBlock extends GraphModule {
  protected abstract branches(): Array<Array<string | 'avgpool' | 'maxpool'>>;

  protected *branch(names: Array<string>, x: QTensor): Steps<QTensor> {
    for (const name of names) {
      if (name === 'avgpool') x = yield avgPool3(x);
      else if (name === 'maxpool') x = yield maxPool3s2(x);
      else x = yield call((this as unknown as Record<string, Module>)[name], x);
    }
    return x;
  }

  protected *steps(x: QTensor): Steps<QTensor> {
    const outputs: QTensor[] = [];
    for (const names of this.branches()) outputs.push(yield* this.branch(names, x));
    return yield method((this as unknown as { myop: QFunctional }).myop, 'cat', outputs, 1);
  }
}

class QuantizableInceptionA extends InceptionBlock {
  branch1x1: Module;
  branch5x5_1: Module;
  branch5x5_2: Module;
  branch3x3dbl_1: Module;
  branch3x3dbl_2: Module;
  branch3x3dbl_3: Module;
  branch_pool: Module;
  myop: QFunctional;

  constructor(inChannels: number, poolFeatures: number) {
    super();
    this.branch1x1 = basic(inChannels, 64, 1);
    this.branch5x5_1 = basic(inChannels, 48, 1);
    this.branch5x5_2 = basic(48, 64, 5, 1, 2);
    this.branch3x3dbl_1 = basic(inChannels, 64, 1);
    this.branch3x3dbl_2 = basic(64, 96, 3, 1, 1);
    this.branch3x3dbl_3 = basic(96, 96, 3, 1, 1);
    this.branch_pool = basic(inChannels, poolFeatures, 1);
    this.myop = qfunctional();
  }

  override getName(): string {
    return 'QuantizableInceptionA';
  }

  protected branches() {
    return [['branch1x1'], ['branch5x5_1', 'branch5x5_2'], ['branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3'], ['avgpool', 'branch_pool']];
  }
}

class QuantizableInceptionB extends InceptionBlock {
  branch3x3: Module;
  branch3x3dbl_1: Module;
  branch3x3dbl_2: Module;
  branch3x3dbl_3: Module;
  myop: QFunctional;

  constructor(inChannels: number) {
    super();
    this.branch3x3 = basic(inChannels, 384, 3, 2);
    this.branch3x3dbl_1 = basic(inChannels, 64, 1);
    this.branch3x3dbl_2 = basic(64, 96, 3, 1, 1);
    this.branch3x3dbl_3 = basic(96, 96, 3, 2);
    this.myop = qfunctional();
  }

  override getName(): string {
    return 'QuantizableInceptionB';
  }

  protected branches() {
    return [['branch3x3'], ['branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3'], ['maxpool']];
  }
}

class QuantizableInceptionC extends InceptionBlock {
  branch1x1: Module;
  branch7x7_1: Module;
  branch7x7_2: Module;
  branch7x7_3: Module;
  branch7x7dbl_1: Module;
  branch7x7dbl_2: Module;
  branch7x7dbl_3: Module;
  branch7x7dbl_4: Module;
  branch7x7dbl_5: Module;
  branch_pool: Module;
  myop: QFunctional;

  constructor(inChannels: number, c7: number) {
    super();
    this.branch1x1 = basic(inChannels, 192, 1);
    this.branch7x7_1 = basic(inChannels, c7, 1);
    this.branch7x7_2 = basic(c7, c7, [1, 7], 1, [0, 3]);
    this.branch7x7_3 = basic(c7, 192, [7, 1], 1, [3, 0]);
    this.branch7x7dbl_1 = basic(inChannels, c7, 1);
    this.branch7x7dbl_2 = basic(c7, c7, [7, 1], 1, [3, 0]);
    this.branch7x7dbl_3 = basic(c7, c7, [1, 7], 1, [0, 3]);
    this.branch7x7dbl_4 = basic(c7, c7, [7, 1], 1, [3, 0]);
    this.branch7x7dbl_5 = basic(c7, 192, [1, 7], 1, [0, 3]);
    this.branch_pool = basic(inChannels, 192, 1);
    this.myop = qfunctional();
  }

  override getName(): string {
    return 'QuantizableInceptionC';
  }

  protected branches() {
    return [
      ['branch1x1'], ['branch7x7_1', 'branch7x7_2', 'branch7x7_3'],
      ['branch7x7dbl_1', 'branch7x7dbl_2', 'branch7x7dbl_3', 'branch7x7dbl_4', 'branch7x7dbl_5'], ['avgpool', 'branch_pool'],
    ];
  }
}

class QuantizableInceptionD extends InceptionBlock {
  branch3x3_1: Module;
  branch3x3_2: Module;
  branch7x7x3_1: Module;
  branch7x7x3_2: Module;
  branch7x7x3_3: Module;
  branch7x7x3_4: Module;
  myop: QFunctional;

  constructor(inChannels: number) {
    super();
    this.branch3x3_1 = basic(inChannels, 192, 1);
    this.branch3x3_2 = basic(192, 320, 3, 2);
    this.branch7x7x3_1 = basic(inChannels, 192, 1);
    this.branch7x7x3_2 = basic(192, 192, [1, 7], 1, [0, 3]);
    this.branch7x7x3_3 = basic(192, 192, [7, 1], 1, [3, 0]);
    this.branch7x7x3_4 = basic(192, 192, 3, 2);
    this.myop = qfunctional();
  }

  override getName(): string {
    return 'QuantizableInceptionD';
  }

  protected branches() {
    return [['branch3x3_1', 'branch3x3_2'], ['branch7x7x3_1', 'branch7x7x3_2', 'branch7x7x3_3', 'branch7x7x3_4'], ['maxpool']];
  }
}

/** InceptionE: its 3x3 branches split in two (1x3 and 3x1), each pair joined by myop1 / myop2, all by myop3. */
class QuantizableInceptionE extends GraphModule {
  branch1x1: Module;
  branch3x3_1: Module;
  branch3x3_2a: Module;
  branch3x3_2b: Module;
  branch3x3dbl_1: Module;
  branch3x3dbl_2: Module;
  branch3x3dbl_3a: Module;
  branch3x3dbl_3b: Module;
  branch_pool: Module;
  myop1: QFunctional;
  myop2: QFunctional;
  myop3: QFunctional;

  constructor(inChannels: number) {
    super();
    this.branch1x1 = basic(inChannels, 320, 1);
    this.branch3x3_1 = basic(inChannels, 384, 1);
    this.branch3x3_2a = basic(384, 384, [1, 3], 1, [0, 1]);
    this.branch3x3_2b = basic(384, 384, [3, 1], 1, [1, 0]);
    this.branch3x3dbl_1 = basic(inChannels, 448, 1);
    this.branch3x3dbl_2 = basic(448, 384, 3, 1, 1);
    this.branch3x3dbl_3a = basic(384, 384, [1, 3], 1, [0, 1]);
    this.branch3x3dbl_3b = basic(384, 384, [3, 1], 1, [1, 0]);
    this.branch_pool = basic(inChannels, 192, 1);
    this.myop1 = qfunctional();
    this.myop2 = qfunctional();
    this.myop3 = qfunctional();
  }

  override getName(): string {
    return 'QuantizableInceptionE';
  }

  protected *steps(x: QTensor): Steps<QTensor> {
    const branch1x1: QTensor = yield call(this.branch1x1, x);
    const b3: QTensor = yield call(this.branch3x3_1, x);
    const branch3x3: QTensor = yield method(this.myop1, 'cat', [yield call(this.branch3x3_2a, b3), yield call(this.branch3x3_2b, b3)], 1);
    const d: QTensor = yield* chain([this.branch3x3dbl_1, this.branch3x3dbl_2], x);
    const branch3x3dbl: QTensor = yield method(this.myop2, 'cat', [yield call(this.branch3x3dbl_3a, d), yield call(this.branch3x3dbl_3b, d)], 1);
    const pooled: QTensor = yield avgPool3(x);
    const branchPool: QTensor = yield call(this.branch_pool, pooled);
    return yield method(this.myop3, 'cat', [branch1x1, branch3x3, branch3x3dbl, branchPool], 1);
  }
}

/** QuantizableInception3 (aux_logits=False, as converted for inference). */
export class QuantizableInception3 extends GraphModule {
  transformInput: boolean;
  Conv2d_1a_3x3: Module;
  Conv2d_2a_3x3: Module;
  Conv2d_2b_3x3: Module;
  maxpool1: Module;
  Conv2d_3b_1x1: Module;
  Conv2d_4a_3x3: Module;
  maxpool2: Module;
  Mixed_5b: Module;
  Mixed_5c: Module;
  Mixed_5d: Module;
  Mixed_6a: Module;
  Mixed_6b: Module;
  Mixed_6c: Module;
  Mixed_6d: Module;
  Mixed_6e: Module;
  Mixed_7a: Module;
  Mixed_7b: Module;
  Mixed_7c: Module;
  avgpool: Module;
  dropout: Module;
  fc: Module;
  quant: Module;
  dequant: Module;

  constructor(options: InceptionOptions = {}) {
    super();
    this.transformInput = options.transformInput ?? true;
    this.Conv2d_1a_3x3 = basic(3, 32, 3, 2);
    this.Conv2d_2a_3x3 = basic(32, 32, 3);
    this.Conv2d_2b_3x3 = basic(32, 64, 3, 1, 1);
    this.maxpool1 = new nn.MaxPool2d(3, { stride: 2 });
    this.Conv2d_3b_1x1 = basic(64, 80, 1);
    this.Conv2d_4a_3x3 = basic(80, 192, 3);
    this.maxpool2 = new nn.MaxPool2d(3, { stride: 2 });
    this.Mixed_5b = new QuantizableInceptionA(192, 32);
    this.Mixed_5c = new QuantizableInceptionA(256, 64);
    this.Mixed_5d = new QuantizableInceptionA(288, 64);
    this.Mixed_6a = new QuantizableInceptionB(288);
    this.Mixed_6b = new QuantizableInceptionC(768, 128);
    this.Mixed_6c = new QuantizableInceptionC(768, 160);
    this.Mixed_6d = new QuantizableInceptionC(768, 160);
    this.Mixed_6e = new QuantizableInceptionC(768, 192);
    this.Mixed_7a = new QuantizableInceptionD(768);
    this.Mixed_7b = new QuantizableInceptionE(1280);
    this.Mixed_7c = new QuantizableInceptionE(2048);
    this.avgpool = new nn.AdaptiveAvgPool2d([1, 1]);
    this.dropout = new nnq.Dropout({ p: 0.5 });
    this.fc = linear(2048, options.numClasses ?? 1000);
    this.quant = quantStub();
    this.dequant = dequantStub();
  }

  override getName(): string {
    return 'QuantizableInception3';
  }

  protected *steps(input: Tensor): Steps<Tensor> {
    const source = this.transformInput ? yield compute(() => transformInput(input)) : input;
    let x: QTensor = yield call(this.quant, source);
    x = yield* chain([
      this.Conv2d_1a_3x3, this.Conv2d_2a_3x3, this.Conv2d_2b_3x3, this.maxpool1, this.Conv2d_3b_1x1, this.Conv2d_4a_3x3, this.maxpool2,
      this.Mixed_5b, this.Mixed_5c, this.Mixed_5d, this.Mixed_6a, this.Mixed_6b, this.Mixed_6c, this.Mixed_6d, this.Mixed_6e,
      this.Mixed_7a, this.Mixed_7b, this.Mixed_7c, this.avgpool, this.dropout,
    ], x);
    x = yield compute(() => flatten1(x));
    x = yield call(this.fc, x);
    return yield call(this.dequant, x);
  }
}

/** torchvision.models.quantization.googlenet (converted, no aux heads). */
export function googlenet(options?: InceptionOptions): QuantizableGoogLeNet {
  return new QuantizableGoogLeNet(options);
}

/** torchvision.models.quantization.inception_v3 (converted, no aux heads). */
export function inceptionV3(options?: InceptionOptions): QuantizableInception3 {
  return new QuantizableInception3(options);
}
