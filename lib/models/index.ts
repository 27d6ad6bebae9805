// models.quantization: torchvision 0.14's quantized (converted) architectures, loadable from torchvision's own state dicts.
//
// Each builder returns the module tree torch.ao.quantization.convert leaves, with torchvision's
// names, so `loadStateDict(await load('resnet18_fbgemm_16fa66dd.pth'))` takes the published
// file unchanged; the functional parts of torchvision's forwards (flatten, mean, chunk, channel
// shuffle, residual adds through QFunctional) are written in each architecture's `steps`.

import { googlenet, inceptionV3 } from './inception';
import { mobilenetV2, mobilenetV3Large } from './mobilenet';
import { resnet18, resnet50, resnext101_32x8d } from './resnet';
import { shufflenetV2X0_5, shufflenetV2X1_0, shufflenetV2X1_5, shufflenetV2X2_0 } from './shufflenet';

export { QuantizableGoogLeNet, QuantizableInception3 } from './inception';
export type { InceptionOptions } from './inception';
export { QuantizableMobileNetV2, QuantizableMobileNetV3 } from './mobilenet';
export type { MobileNetOptions } from './mobilenet';
export { QuantizableResNet } from './resnet';
export type { ResNetOptions } from './resnet';
export { QuantizableShuffleNetV2, channelShuffle } from './shufflenet';
export type { ShuffleNetV2Options } from './shufflenet';

/** torchvision.models.quantization, camelCased. */
export const quantization = Object.freeze({
  resnet18,
  resnet50,
  resnext101_32x8d,
  mobilenetV2,
  mobilenetV3Large,
  shufflenetV2X0_5,
  shufflenetV2X1_0,
  shufflenetV2X1_5,
  shufflenetV2X2_0,
  googlenet,
  inceptionV3,
});

/** The zoo, keyed by torchvision's builder names (what the CLI's --arch takes). */
export const architectures: Readonly<Record<string, () => import('../nn/module').Module>> = Object.freeze({
  resnet18,
  resnet50,
  resnext101_32x8d,
  mobilenet_v2: mobilenetV2,
  mobilenet_v3_large: mobilenetV3Large,
  shufflenet_v2_x0_5: shufflenetV2X0_5,
  shufflenet_v2_x1_0: shufflenetV2X1_0,
  shufflenet_v2_x1_5: shufflenetV2X1_5,
  shufflenet_v2_x2_0: shufflenetV2X2_0,
  googlenet,
  inception_v3: inceptionV3,
});

/** The namespace exported as `models`: models.quantization.resnet18() ... */
export const models = Object.freeze({ quantization, architectures });
