# Builds torchvision 0.14's quantized models with random, calibrated weights and writes the files the zoo tests and the demo load.
#
# Run with Debian's PyTorch: /usr/bin/python3 scripts/zoo/make_zoo.py --out DIR ARCH...
# For each ARCH (torchvision's builder name, e.g. resnet18, mobilenet_v2, shufflenet_v2_x0_5) it writes
#   ARCH.pth          torch.save(model.state_dict())            (what torchvision publishes)
#   ARCH.pt           torch.jit.save(torch.jit.script(model))   (a TorchScript archive)
#   ARCH.inputs.bin   float32 little-endian [N, 3, H, W] inputs
#   ARCH.calibration.bin  float32 [8, 3, H, W]: the batch the model was calibrated on (inputs included)
#   ARCH.logits.bin   float32 little-endian [N, classes] logits PyTorch computes for them
#   ARCH.repr.txt     print(model)
#   ARCH.json         shapes, the output's qparams, the engine, and the qparams calibrated after convert
# Files that exist already are kept (the tests call this once per run into a cache directory).
#
# No pretrained weights and no network: weights are torchvision's random init; the BatchNorm layers
# get random affine parameters and running statistics taken from data (one training-mode pass with
# cumulative averaging), so every layer sees activations at realistic scales before the model is
# fused, prepared with a qconfig for onednn (torchvision's quantize_model only knows fbgemm and
# qnnpack: its fbgemm qconfig without reduce_range), calibrated and converted under the onednn engine.
# With --engine qnnpack: torchvision's qnnpack qconfig instead (per-tensor weights), converted and
# run under the qnnpack engine, so the logits are qnnpack's throughout (write these to their own --out).
#
# Modules whose output qparams state_dict() does not save (nnq.Hardswish, ELU, Sigmoid, Softmax)
# are calibrated again after convert the way qkernels' calibrate() does it (lib/observers/): in
# forward order, a MinMaxObserver sees the float op applied to the module's dequantized input
# over the calibration batch, and the module takes those qparams before it runs.
# The float model's calibration cannot be reproduced from a state dict; this one can, so the
# state-dict path of the tests compares against the same model the TorchScript archive holds.
import argparse
import fcntl
import json
import os
import sys
import warnings

import torch
import torch.nn as nn
import torchvision.models.quantization as tvq

warnings.filterwarnings('ignore')

# Per architecture: torchvision builder, its keyword arguments, and the default input side (small
# where the architecture allows, to keep the test run short; inception_v3 needs at least 75).
ARCHES = {
    'resnet18': (tvq.resnet18, {}, 64),
    'resnet50': (tvq.resnet50, {}, 64),
    'resnext101_32x8d': (tvq.resnext101_32x8d, {}, 64),
    'mobilenet_v2': (tvq.mobilenet_v2, {}, 64),
    'mobilenet_v3_large': (tvq.mobilenet_v3_large, {}, 64),
    'shufflenet_v2_x0_5': (tvq.shufflenet_v2_x0_5, {}, 64),
    'shufflenet_v2_x1_0': (tvq.shufflenet_v2_x1_0, {}, 64),
    'shufflenet_v2_x1_5': (tvq.shufflenet_v2_x1_5, {}, 64),
    'shufflenet_v2_x2_0': (tvq.shufflenet_v2_x2_0, {}, 64),
    # transform_input=True is what torchvision's published quantized weights use.
    'googlenet': (tvq.googlenet, {'aux_logits': False, 'transform_input': True, 'init_weights': True}, 64),
    'inception_v3': (tvq.inception_v3, {'aux_logits': False, 'transform_input': True, 'init_weights': True}, 80),
}

# torch.ao.nn.quantized modules that keep their output qparams as plain attributes.
UNSAVED_QPARAMS = (torch.ao.nn.quantized.Hardswish, torch.ao.nn.quantized.ELU,
                   torch.ao.nn.quantized.Sigmoid, torch.ao.nn.quantized.Softmax)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def images(generator, count, side):
    """Smooth random RGB images in [0, 1] (low-frequency noise upsampled), normalized like ImageNet."""
    coarse = torch.rand(count, 3, 8, 8, generator=generator)
    fine = torch.rand(count, 3, side, side, generator=generator)
    x = nn.functional.interpolate(coarse, size=(side, side), mode='bilinear', align_corners=False)
    x = (0.8 * x + 0.2 * fine).clamp(0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def float_model(arch, generator, calibration):
    builder, kwargs, _ = ARCHES[arch]
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    model = builder(weights=None, quantize=False, **kwargs)
    # BatchNorm: random affine parameters, running statistics from one training-mode pass.
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.2, generator=generator)
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad():
        model(calibration)
    model.eval()
    return model


def quantize(model, calibration, engine):
    torch.backends.quantized.engine = engine
    # torchvision's quantize_model qconfig for fbgemm (MinMaxObserver activations, per-channel
    # weights), without reduce_range, which only fbgemm's vpmaddubsw needs; for qnnpack its qnnpack
    # qconfig's per-tensor weights. (The engines' default qconfigs use a HistogramObserver, which
    # clips the largest logits: top-1 ties at qmax; MinMax activations under both.)
    weight = (torch.ao.quantization.default_weight_observer if engine == 'qnnpack'
              else torch.ao.quantization.default_per_channel_weight_observer)
    model.qconfig = torch.ao.quantization.QConfig(
        activation=torch.ao.quantization.MinMaxObserver.with_args(reduce_range=False),
        weight=weight,
    )
    model.fuse_model()
    torch.ao.quantization.prepare(model, inplace=True)
    with torch.no_grad():
        model(calibration)
    torch.ao.quantization.convert(model, inplace=True)
    return model


def float_op(module, x):
    if isinstance(module, torch.ao.nn.quantized.Hardswish):
        return nn.functional.hardswish(x)
    if isinstance(module, torch.ao.nn.quantized.ELU):
        return nn.functional.elu(x, module.alpha)
    if isinstance(module, torch.ao.nn.quantized.Sigmoid):
        return torch.sigmoid(x)
    return torch.softmax(x, module.dim)


def recalibrate_unsaved(model, calibration):
    """Per module, in forward order: a MinMaxObserver (quint8, per-tensor affine, no reduce_range)
    sees float_op(dequantize(input)) of the whole batch, and the module takes its qparams before it
    runs, so later modules are observed downstream of final qparams (lib/observers/calibrate.ts)."""
    calibrated = {}
    names = {m: name for name, m in model.named_modules()}

    def hook(module, inputs):
        observer = torch.ao.quantization.MinMaxObserver()
        observer(float_op(module, inputs[0].dequantize()))
        scale, zero_point = observer.calculate_qparams()
        if isinstance(module, torch.ao.nn.quantized.Sigmoid):
            module.output_scale, module.output_zero_point = float(scale), int(zero_point)
        else:
            module.scale, module.zero_point = float(scale), int(zero_point)
        calibrated[names[module]] = {'scale': float(scale), 'zeroPoint': int(zero_point)}

    hooks = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, UNSAVED_QPARAMS)]
    with torch.no_grad():
        model(calibration)
    for h in hooks:
        h.remove()
    return calibrated


def make(arch, out, side, count, seed, engine):
    stem = os.path.join(out, arch)
    if all(os.path.exists(stem + ext) for ext in ('.pth', '.pt', '.inputs.bin', '.calibration.bin', '.logits.bin', '.repr.txt', '.json')):
        return
    side = side or ARCHES[arch][2]
    generator = torch.Generator().manual_seed(seed)
    inputs = images(generator, count, side)
    # The test inputs are part of the calibration batch, as a deployment's calibration set
    # covers its inputs: their logits stay inside the calibrated range (no ties at qmax).
    calibration = torch.cat([images(generator, 8 - count, side), inputs])
    model = quantize(float_model(arch, generator, calibration), calibration, engine)
    calibrated = recalibrate_unsaved(model, calibration)

    captured = {}
    hook = model.dequant.register_forward_pre_hook(lambda m, i: captured.update(q=i[0]))
    with torch.no_grad():
        logits = model(inputs)
    hook.remove()
    if isinstance(logits, tuple):
        logits = logits[0]
    q = captured['q']

    torch.save(model.state_dict(), stem + '.pth.tmp')
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, stem + '.pt.tmp')
    with open(stem + '.inputs.bin.tmp', 'wb') as f:
        f.write(inputs.contiguous().numpy().astype('<f4').tobytes())
    with open(stem + '.calibration.bin.tmp', 'wb') as f:
        f.write(calibration.contiguous().numpy().astype('<f4').tobytes())
    with open(stem + '.logits.bin.tmp', 'wb') as f:
        f.write(logits.contiguous().numpy().astype('<f4').tobytes())
    meta = {
        'arch': arch,
        'engine': engine,
        'inputShape': list(inputs.shape),
        'calibrationShape': list(calibration.shape),
        'logitsShape': list(logits.shape),
        'outputScale': float(q.q_scale()),
        'outputZeroPoint': int(q.q_zero_point()),
        'calibrationSeed': seed,
        'calibrated': calibrated,
    }
    with open(stem + '.repr.txt.tmp', 'w') as f:
        f.write(str(model))
    with open(stem + '.json.tmp', 'w') as f:
        json.dump(meta, f, indent=1)
    # Rename last so a killed run never leaves a half-written cache entry.
    for ext in ('.pth', '.pt', '.inputs.bin', '.calibration.bin', '.logits.bin', '.repr.txt', '.json'):
        os.replace(stem + ext + '.tmp', stem + ext)


def main():
    parser = argparse.ArgumentParser(description='torchvision quantized models with random calibrated weights')
    parser.add_argument('--out', required=True)
    parser.add_argument('--side', type=int, default=0, help='input height and width (default per architecture)')
    parser.add_argument('--inputs', type=int, default=4)
    parser.add_argument('--seed', type=int, default=20240)
    parser.add_argument('--engine', default='onednn', choices=['onednn', 'qnnpack'], help='the engine the model is converted and run under')
    parser.add_argument('arches', nargs='+', choices=sorted(ARCHES))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    # Test files running in parallel share the cache: one generator at a time, the others then
    # find the files made (an exclusive lock, released when the process ends).
    with open(os.path.join(args.out, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for arch in args.arches:
            make(arch, args.out, args.side, args.inputs, args.seed, args.engine)
            print(arch, file=sys.stderr)


if __name__ == '__main__':
    main()
