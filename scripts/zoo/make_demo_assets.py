# Writes the demo's assets (demo/assets/): a quantized shufflenet_v2_x0_5 state dict, a sample image, ImageNet's class names, PyTorch's answer.
#
# Run with Debian's PyTorch: /usr/bin/python3 scripts/zoo/make_demo_assets.py
# No network and no pretrained weights: the model is torchvision's architecture with random
# weights, calibrated and converted as scripts/zoo/make_zoo.py does (so its "classes" are
# arbitrary); the point is a real torchvision file loaded and run without Python.
# The sample image is synthetic (drawn here), a PNG so every decoder sees the same pixels.
import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image, ImageDraw
from torchvision.models._meta import _IMAGENET_CATEGORIES

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_zoo  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'demo', 'assets')
ARCH = 'shufflenet_v2_x0_5'


def sample_image():
    """A 320 x 240 picture: sky gradient, a sun, hills and a house, drawn deterministically."""
    w, h = 320, 240
    y = np.linspace(0, 1, h)[:, None]
    sky = np.stack([110 + 90 * y, 160 + 60 * y, 235 - 20 * y], axis=-1) * np.ones((1, w, 1))
    img = Image.fromarray(sky.astype(np.uint8), 'RGB')
    draw = ImageDraw.Draw(img)
    draw.ellipse([230, 25, 290, 85], fill=(250, 215, 80))
    draw.polygon([(0, 170), (90, 120), (200, 165), (320, 115), (320, 240), (0, 240)], fill=(70, 140, 60))
    draw.rectangle([60, 140, 140, 200], fill=(180, 60, 50))
    draw.polygon([(50, 140), (100, 100), (150, 140)], fill=(90, 50, 40))
    draw.rectangle([90, 165, 110, 200], fill=(60, 40, 30))
    return img


def main():
    os.makedirs(ROOT, exist_ok=True)
    torch.set_num_threads(1)
    image = sample_image()
    image.save(os.path.join(ROOT, 'sample.png'))
    # torchvision's ImageClassification preset on the image's pixels (antialias=False, as qkernels' resize).
    x = TF.pil_to_tensor(image)
    x = TF.resize(x, [256], interpolation=TF.InterpolationMode.BILINEAR, antialias=False)
    x = TF.center_crop(x, 224)
    x = TF.normalize(TF.convert_image_dtype(x, torch.float), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])

    # Calibrated on the sample, its mirror image and synthetic images, so the sample's
    # activations (its logits included) lie inside the calibrated ranges.
    generator = torch.Generator().manual_seed(2024)
    calibration = torch.cat([x.unsqueeze(0), x.flip(-1).unsqueeze(0), make_zoo.images(generator, 6, 224)])
    model = make_zoo.quantize(make_zoo.float_model(ARCH, generator, calibration), calibration)
    torch.save(model.state_dict(), os.path.join(ROOT, f'{ARCH}_quantized.pth'))
    with torch.no_grad():
        logits = model(x.unsqueeze(0))[0]
    top5 = torch.topk(logits, 5)
    with open(os.path.join(ROOT, 'imagenet_classes.json'), 'w') as f:
        json.dump(list(_IMAGENET_CATEGORIES), f)
    with open(os.path.join(ROOT, 'expected.json'), 'w') as f:
        json.dump({'arch': ARCH, 'engine': 'onednn', 'torch': torch.__version__,
                   'top5': [[int(i), float(v)] for v, i in zip(top5.values, top5.indices)]}, f, indent=1)


if __name__ == '__main__':
    main()
