# Oracle ops of the weights loader (lib/io): writes torch.save / torch.jit.save files of converted quantized models and describes what torch holds in them.
#
# io_fixtures {dir}: writes the files into dir and returns, per file, what torch.load (or the
# scripted module's state_dict()) holds, entry by entry, with every tensor's raw bytes, so the
# test compares qkernels' loader bit for bit. Descriptors (plain JSON, bytes as base64):
#   {"kind": "tensor", "dtype", "shape", "stride", "b64"}    raw bytes in logical (row-major) order
#   {"kind": "qtensor", "dtype", "qscheme", "shape", "stride", "b64" (int_repr bytes),
#    "scale", "zero_point" | "scales" (b64 float64), "zero_points" (list), "axis"}
#   {"kind": "list", "items": [...]}, {"kind": "dict", "items": [[key, d], ...]},
#   {"kind": "bigint", "value": "decimal"}, {"kind": "bytes", "b64"}, {"kind": "value", "value"}

import base64
import collections
import os
import sys

from oracle_wire import torch

nn = torch.nn


def b64(array_bytes):
    return base64.b64encode(array_bytes).decode("ascii")


def raw_bytes(t):
    """A tensor's elements in logical order as little-endian bytes (bool as one byte, bf16/f16 as their bits)."""
    flat = t.detach().contiguous().reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    if flat.numel() == 0:
        return b""
    return flat.view(torch.uint8).numpy().tobytes()


def describe(value):
    if isinstance(value, torch.Tensor):
        if value.is_quantized:
            d = {
                "kind": "qtensor",
                "dtype": str(value.dtype)[len("torch."):],
                "qscheme": str(value.qscheme())[len("torch."):],
                "shape": list(value.shape),
                "stride": list(value.stride()),
                "b64": b64(value.int_repr().contiguous().numpy().tobytes()),
            }
            if value.qscheme() == torch.per_tensor_affine:
                d["scale"] = value.q_scale()
                d["zero_point"] = value.q_zero_point()
            else:
                d["scales"] = b64(value.q_per_channel_scales().double().numpy().tobytes())
                d["zero_points"] = [float(z) for z in value.q_per_channel_zero_points().tolist()]
                d["axis"] = value.q_per_channel_axis()
            return d
        return {
            "kind": "tensor",
            "dtype": str(value.dtype)[len("torch."):],
            "shape": list(value.shape),
            "stride": list(value.stride()),
            "b64": b64(raw_bytes(value)),
        }
    if isinstance(value, torch.Size):
        return {"kind": "value", "value": list(value)}
    if isinstance(value, (tuple, list)):
        return {"kind": "list", "items": [describe(v) for v in value]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": [[k, describe(v)] for k, v in value.items()]}
    if isinstance(value, (torch.dtype, torch.qscheme)):
        return {"kind": "value", "value": str(value)}
    if isinstance(value, bytes):
        return {"kind": "bytes", "b64": b64(value)}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2 ** 53:
        return {"kind": "bigint", "value": str(value)}
    return {"kind": "value", "value": value}


def calibrate_and_convert(model, example, qconfig=None):
    tq = torch.ao.quantization
    model.eval()
    model.qconfig = qconfig or tq.get_default_qconfig("onednn")
    prepared = tq.prepare(model)
    prepared(*example) if isinstance(example, tuple) else prepared(example)
    return tq.convert(prepared)


class Vision(nn.Module):
    """The modules a converted CNN keeps: conv (bias and none), fused conv-relu, BN, activations with and without saved qparams, add, linear."""

    def __init__(self):
        super().__init__()
        tq = torch.ao.quantization
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.hardswish = nn.Hardswish()
        self.conv_relu = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.ReLU())
        self.elu = nn.ELU()
        self.leaky = nn.LeakyReLU(0.1)
        self.norm = nn.LayerNorm([6])
        self.skip_add = nn.quantized.FloatFunctional()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)
        self.fc_relu = nn.Sequential(nn.Linear(5, 4), nn.ReLU())
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        y = self.hardswish(self.bn(self.conv(x)))
        y = self.skip_add.add(y, self.conv_relu(y))
        y = self.norm(self.leaky(self.elu(y)))
        y = torch.flatten(self.pool(y), 1)
        return self.dequant(self.fc_relu(self.fc(y)))


class Convs(nn.Module):
    """conv1d, conv3d and transposed conv, whose packed params differ from conv2d's."""

    def __init__(self):
        super().__init__()
        tq = torch.ao.quantization
        self.quant1 = tq.QuantStub()
        self.conv1d = nn.Conv1d(4, 6, 3, stride=2)
        self.quant3 = tq.QuantStub()
        self.conv3d = nn.Conv3d(2, 3, (1, 2, 2), groups=1)
        self.quant2 = tq.QuantStub()
        self.deconv = nn.ConvTranspose2d(3, 2, 2, stride=2)
        self.dequant = tq.DeQuantStub()

    def forward(self, a, b, c):
        return (
            self.dequant(self.conv1d(self.quant1(a))),
            self.dequant(self.conv3d(self.quant3(b))),
            self.dequant(self.deconv(self.quant2(c))),
        )


def build_models():
    torch.manual_seed(0)
    tq = torch.ao.quantization
    nnq = torch.ao.nn.quantized
    vision = Vision().eval()
    tq.fuse_modules(vision, [["conv_relu.0", "conv_relu.1"], ["fc_relu.0", "fc_relu.1"]], inplace=True)
    vision = calibrate_and_convert(vision, torch.randn(2, 3, 6, 6))
    convs = Convs().eval()
    convs.deconv.qconfig = None
    convs = calibrate_and_convert(convs, (torch.randn(2, 4, 9), torch.randn(1, 2, 2, 4, 4), torch.randn(1, 3, 3, 3)))
    # The transposed conv with a per-tensor weight (per-channel transposed conv is unsupported by onednn in 1.13).
    convs.deconv = nnq.ConvTranspose2d(3, 2, 2, stride=2)
    wt = torch.quantize_per_tensor(torch.randn(3, 2, 2, 2), 0.02, 0, torch.qint8)
    convs.deconv.set_weight_bias(wt, torch.randn(2))
    convs.deconv.scale, convs.deconv.zero_point = 0.05, 3
    embeddings = nn.Module()
    embeddings.bag8 = nnq.EmbeddingBag(12, 8, mode="sum", dtype=torch.quint8)
    embeddings.bag4 = nnq.EmbeddingBag(10, 6, mode="mean", dtype=torch.quint4x2)
    embeddings.table = nnq.Embedding(7, 4)
    for module in (embeddings.bag8, embeddings.bag4, embeddings.table):
        w = torch.randn(module.num_embeddings if hasattr(module, "num_embeddings") else 7, module.embedding_dim)
        dtype = module._packed_params.dtype
        module.set_weight(torch.quantize_per_channel(w, w.abs().amax(1) / 7 + 0.01, torch.zeros(w.shape[0]), 0, dtype))
    dynamic = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))
    dynamic8 = tq.quantize_dynamic(dynamic, {nn.Linear}, dtype=torch.qint8)
    return {"vision": vision, "convs": convs, "embeddings": embeddings, "dynamic8": dynamic8}


def tensor_zoo():
    """One tensor per dtype and qscheme, non-contiguous and offset views, and the plain values a checkpoint holds."""
    torch.manual_seed(1)
    x = torch.randn(3, 4, 5, 2)
    out = collections.OrderedDict()
    out["per_tensor.quint8"] = torch.quantize_per_tensor(x, 0.03, 120, torch.quint8)
    out["per_tensor.qint8"] = torch.quantize_per_tensor(x, 0.02, -3, torch.qint8)
    out["per_tensor.qint32"] = torch.quantize_per_tensor(x, 1e-4, 7, torch.qint32)
    out["per_tensor.quint4x2"] = torch.quantize_per_tensor(torch.rand(3, 5), 0.1, 1, torch.quint4x2)
    for dtype in (torch.quint8, torch.qint8, torch.qint32):
        name = str(dtype)[len("torch."):]
        out["per_channel.%s.axis0" % name] = torch.quantize_per_channel(x, torch.rand(3).double() / 10 + 0.01, torch.tensor([0, 2, -1]) + (10 if dtype == torch.quint8 else 0), 0, dtype)
        out["per_channel.%s.axis1" % name] = torch.quantize_per_channel(x, torch.rand(4).double() / 10 + 0.01, torch.tensor([1, 0, 3, 2]), 1, dtype)
    for dtype in (torch.quint8, torch.quint4x2):
        name = str(dtype)[len("torch."):]
        out["float_qparams.%s" % name] = torch.quantize_per_channel(torch.randn(5, 6), torch.rand(5) / 10 + 0.01, torch.randn(5), 0, dtype)
    out["channels_last.qtensor"] = torch.quantize_per_tensor(x, 0.03, 10, torch.quint8).contiguous(memory_format=torch.channels_last)
    out["channels_last.per_channel"] = torch.quantize_per_channel(x, torch.rand(3).double() / 10 + 0.01, torch.zeros(3, dtype=torch.long), 0, torch.qint8).contiguous(memory_format=torch.channels_last)
    out["channels_last.float"] = x.contiguous(memory_format=torch.channels_last)
    base = torch.randn(10, 6)
    out["view.offset"] = base[3:7]
    out["view.transposed"] = base.t()
    out["view.base"] = base
    out["float32.scalar"] = torch.tensor(2.5)
    out["float64"] = torch.randn(4, 3).double()
    out["float16"] = torch.randn(7).half()
    out["bfloat16"] = torch.randn(2, 3).bfloat16()
    out["int64"] = torch.tensor([[-(2 ** 40), 3], [7, 2 ** 52]])
    out["int32"] = torch.randint(-1000, 1000, (5,), dtype=torch.int32)
    out["int16"] = torch.randint(-1000, 1000, (2, 2), dtype=torch.int16)
    out["int8"] = torch.randint(-100, 100, (9,), dtype=torch.int8)
    out["uint8"] = torch.randint(0, 255, (3, 3), dtype=torch.uint8)
    out["bool"] = torch.tensor([True, False, True])
    out["empty"] = torch.zeros(0, 3)
    out["size"] = torch.Size([2, 3, 4])
    out["dtype"] = torch.qint8
    out["qscheme"] = torch.per_channel_affine
    out["plain"] = {"int": 7, "negative": -123456, "big": 2 ** 62, "float": 0.1, "str": "résumé", "none": None, "true": True,
                    "tuple": (1, 2.5, "a"), "list": [1, [2, [3]]], "bytes": b"\x00\xffab"}
    return out


class Net(nn.Module):
    """A user's model class, pickled whole by torch.save(model)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)


def write_fixtures(case):
    directory = case["dir"]
    files = {}

    def add(name, writer, expected, attributes=None):
        path = os.path.join(directory, name)
        writer(path)
        files[name] = {"entries": describe(expected)["items"], "attributes": attributes or {}}

    models = build_models()
    nnq = torch.ao.nn.quantized
    for name, model in models.items():
        state = model.state_dict()
        add(name + ".pt", lambda p, s=state: torch.save(s, p), state)
        scripted = torch.jit.script(model)
        attributes = {}
        for prefix, module in model.named_modules():
            dot = prefix + "." if prefix else ""
            if isinstance(module, (nnq.Hardswish, nnq.ELU, nnq.Softmax)):
                attributes[dot + "scale"] = module.scale
                attributes[dot + "zero_point"] = module.zero_point
        add(name + ".jit.pt", lambda p, m=scripted: torch.jit.save(m, p), state, attributes)
    zoo = tensor_zoo()
    add("tensors.pt", lambda p: torch.save(zoo, p), zoo)
    checkpoint = {"epoch": 3, "model": models["vision"].state_dict()}
    add("checkpoint.pt", lambda p: torch.save(checkpoint, p), checkpoint)

    # Files the loader must refuse: a whole pickled model (as a user script's __main__.Net), another global, the legacy format.
    Net.__module__ = "__main__"
    setattr(sys.modules["__main__"], "Net", Net)
    torch.save(Net(), os.path.join(directory, "whole_model.pt"))
    torch.save({"counts": collections.Counter("abc")}, os.path.join(directory, "counter.pt"))
    torch.save(models["vision"].state_dict(), os.path.join(directory, "legacy.pt"), _use_new_zipfile_serialization=False)
    return {"files": files, "torch": torch.__version__}


HANDLERS = {"io_fixtures": write_fixtures}
