// image: decoded RGB pixels to model inputs, as torchvision's transforms (decoding through the optional sharp).
export { IMAGENET_MEAN, IMAGENET_STD, centerCrop, classificationTransform, resize, stack, toTensor } from './transforms';
export type { ClassificationTransformOptions, NormalizeOptions, RGBImage } from './transforms';
export { decodeImage } from './decode';
