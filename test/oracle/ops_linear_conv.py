# Oracle handlers of the linear-conv family: torch's quantized linear/conv ops, and an fp64 reference for what torch lacks.
#
# Every case sends integers and qparams (never floats to quantize), so torch and qkernels see
# the same quantized values. Each handler answers with
#   "torch":     torch's quantized op's output (int_repr, logical order), tried with the engines
#                in case["engines"] in turn ("engine" says which one answered); absent when
#                every engine refused ("torch_error" has the last message)
#   "reference": the same op computed in float64 from the dequantized values (conv/linear,
#                bias, activation or add), then quantized with round-half-even and clamped:
#                the expectation where torch has no kernel (per-channel transposed weights,
#                LinearLeakyReLU, LinearTanh, ConvAdd2d, ConvAddReLU2d in this torch 1.13 build).
# Padding modes torch's quantized conv lacks (reflect, replicate, circular) and asymmetric
# padding ('same' with an even dilated kernel) are built in torch the way its float modules
# do it: F.pad of the input first, then the quantized conv with padding 0. The quantized input
# is padded by dequantizing, padding the floats and quantizing again with the same qparams,
# which gives back exactly the original integers (and the zero point for 'zeros' padding).

from oracle_wire import *  # noqa: F401,F403 - torch, np, the wire helpers

import torch.nn.functional as F


def quantized(values, scales, zero_points, axis, dtype):
    """A quantized tensor over given integers: per tensor when axis is None, else per channel."""
    if axis is None:
        return torch._make_per_tensor_quantized_tensor(values, float(scales[0]), int(zero_points[0]))
    return torch._make_per_channel_quantized_tensor(
        values, scales.to(torch.float64), zero_points.to(torch.int64), int(axis))


def weight_of(case):
    axis = case.get("w_axis")
    return quantized(case["w"].to(torch.int8), case["w_scales"], case["w_zero_points"], axis, torch.qint8)


def input_of(case):
    x = torch._make_per_tensor_quantized_tensor(case["x"].to(torch.uint8), float(case["x_scale"]), int(case["x_zero_point"]))
    return in_case_format(case, x)


def in_case_format(case, x):
    """channels_last(_3d) when the case asks for it; a 3-D input has no such format in torch (values are the same)."""
    if case.get("channels_last") and x.dim() in (4, 5):
        x = x.contiguous(memory_format=torch.channels_last if x.dim() == 4 else torch.channels_last_3d)
    return x


def bias_of(case):
    return case["bias"].to(torch.float32) if "bias" in case else None


def quantize_reference(y, scale, zero_point):
    """round_half_even(y / scale) + zero_point, clamped to quint8, in float64."""
    q = torch.round(y / float(scale)) + int(zero_point)
    return q.clamp(0, 255).to(torch.uint8)


def apply_fusion(y, case):
    fusion = case.get("fusion", "none")
    if fusion in ("add", "add_relu"):
        extra = (case["extra"].to(torch.float64) - int(case["extra_zero_point"])) * float(case["extra_scale"])
        y = y + extra
    if fusion in ("relu", "add_relu"):
        y = torch.relu(y)
    elif fusion == "leaky_relu":
        y = torch.where(y > 0, y, y * float(case["alpha"]))
    elif fusion == "tanh":
        y = torch.tanh(y)
    return y


def dequantized_weight64(case):
    """The weight's real values in float64; per-channel qparams along w_axis."""
    w = case["w"].to(torch.float64)
    scales = case["w_scales"].to(torch.float64)
    zero_points = case["w_zero_points"].to(torch.float64)
    axis = case.get("w_axis")
    if axis is None:
        return (w - zero_points[0]) * scales[0]
    shape = [1] * w.dim()
    shape[axis] = -1
    return (w - zero_points.reshape(shape)) * scales.reshape(shape)


def try_engines(case, run):
    """run() under each engine of case["engines"]; the first success answers."""
    saved = torch.backends.quantized.engine
    error = "no engine tried"
    try:
        for engine in case.get("engines", ["onednn", "qnnpack"]):
            torch.backends.quantized.engine = engine
            try:
                return {"torch": run(), "engine": engine}
            except Exception as failure:  # noqa: BLE001 - torch refusing a configuration is an answer
                error = "%s: %s" % (engine, str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__)
    finally:
        torch.backends.quantized.engine = saved
    return {"torch_error": error}


# ---- linear ------------------------------------------------------------------------------------


def op_linear(case):
    """Quantized linear (fusion none/relu via torch; leaky_relu/tanh reference only). x: uint8 (N, *, in)."""
    fusion = case.get("fusion", "none")
    x64 = (case["x"].to(torch.float64) - int(case["x_zero_point"])) * float(case["x_scale"])
    w64 = dequantized_weight64(case)
    bias = bias_of(case)
    y = x64 @ w64.t()
    if bias is not None:
        y = y + bias.to(torch.float64)
    out = {"reference": quantize_reference(apply_fusion(y, case), case["scale"], case["zero_point"])}

    def run():
        packed = torch.ops.quantized.linear_prepack(weight_of(case), bias)
        x = input_of(case)
        if fusion == "none":
            return torch.ops.quantized.linear(x, packed, float(case["scale"]), int(case["zero_point"])).int_repr()
        if fusion == "relu":
            return torch.ops.quantized.linear_relu(x, packed, float(case["scale"]), int(case["zero_point"])).int_repr()
        raise NotImplementedError("torch 1.13 has no quantized::linear_%s" % fusion)

    out.update(try_engines(case, run))
    return out


def op_linear_dynamic(case):
    """Dynamic linear: fp32 x, torch's linear_dynamic / linear_relu_dynamic with reduce_range."""
    bias = bias_of(case)
    relu = bool(case.get("relu", False))
    reduce_range = bool(case["reduce_range"])

    def run():
        packed = torch.ops.quantized.linear_prepack(weight_of(case), bias)
        op = torch.ops.quantized.linear_relu_dynamic if relu else torch.ops.quantized.linear_dynamic
        return op(case["x"].to(torch.float32), packed, reduce_range)

    out = try_engines(case, run)
    # Which qparams torch chose for the activations, for the report.
    q = torch.quantize_per_tensor_dynamic(case["x"].to(torch.float32), torch.quint8, reduce_range)
    out["x_scale"] = float(q.q_scale())
    out["x_zero_point"] = int(q.q_zero_point())
    return out


# ---- conv --------------------------------------------------------------------------------------

PAD_MODES = {"reflect": "reflect", "replicate": "replicate", "circular": "circular", "zeros": "constant"}


def padded_input(case, x):
    """x padded as torch's float modules do (F.pad, last dim first) when torch's quantized conv cannot pad it."""
    before, after = case["pad_before"], case["pad_after"]
    pads = []
    for b, a in reversed(list(zip(before, after))):
        pads += [int(b), int(a)]
    mode = PAD_MODES[case.get("padding_mode", "zeros")]
    if mode == "constant":
        return F.pad(x, pads, mode="constant", value=0.0)
    # F.pad's reflect/replicate/circular need a batched float input of rank dims + 2 (they do for conv inputs).
    return F.pad(x, pads, mode=mode)


def needs_explicit_pad(case):
    return case.get("padding_mode", "zeros") != "zeros" or list(case["pad_before"]) != list(case["pad_after"])


def op_conv(case):
    """Quantized conv / transposed conv of dims 1..3 (fusion none/relu via torch; add/add_relu reference only)."""
    dims = int(case["dims"])
    transposed = bool(case.get("transposed", False))
    fusion = case.get("fusion", "none")
    stride = [int(s) for s in case["stride"]]
    dilation = [int(d) for d in case["dilation"]]
    groups = int(case["groups"])
    output_padding = [int(p) for p in case.get("output_padding", [0] * dims)]
    bias = bias_of(case)
    explicit_pad = needs_explicit_pad(case)
    padding = [0] * dims if explicit_pad else [int(p) for p in case["pad_before"]]

    # Reference in float64.
    x64 = (case["x"].to(torch.float64) - int(case["x_zero_point"])) * float(case["x_scale"])
    w64 = dequantized_weight64(case)
    b64 = bias.to(torch.float64) if bias is not None else None
    if transposed:
        conv_t = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][dims - 1]
        y = conv_t(x64, w64, b64, stride=stride, padding=[int(p) for p in case["pad_before"]],
                   output_padding=output_padding, groups=groups, dilation=dilation)
    else:
        conv = [F.conv1d, F.conv2d, F.conv3d][dims - 1]
        xin = padded_input(case, x64) if explicit_pad else x64
        y = conv(xin, w64, b64, stride=stride, padding=padding, dilation=dilation, groups=groups)
    out = {"reference": quantize_reference(apply_fusion(y, case), case["scale"], case["zero_point"])}

    def run():
        x = input_of(case)
        if explicit_pad:
            xf = padded_input(case, x.dequantize())
            x = in_case_format(case, torch.quantize_per_tensor(xf, x.q_scale(), x.q_zero_point(), torch.quint8))
        w = weight_of(case)
        ops = torch.ops.quantized
        scale, zero_point = float(case["scale"]), int(case["zero_point"])
        if transposed:
            prepack = [ops.conv_transpose1d_prepack, ops.conv_transpose2d_prepack, ops.conv_transpose3d_prepack][dims - 1]
            run_op = [ops.conv_transpose1d, ops.conv_transpose2d, ops.conv_transpose3d][dims - 1]
            if fusion != "none":
                raise NotImplementedError("no fused transposed conv in torch")
            packed = prepack(w, bias, stride, padding, output_padding, dilation, groups)
            y = run_op(x, packed, scale, zero_point)
        else:
            prepack = [ops.conv1d_prepack, ops.conv2d_prepack, ops.conv3d_prepack][dims - 1]
            if fusion == "none":
                run_op = [ops.conv1d, ops.conv2d, ops.conv3d][dims - 1]
            elif fusion == "relu":
                run_op = [ops.conv1d_relu, ops.conv2d_relu, ops.conv3d_relu][dims - 1]
            else:
                raise NotImplementedError("torch 1.13 has no quantized::conv2d_%s" % fusion)
            packed = prepack(w, bias, stride, padding, dilation, groups)
            y = run_op(x, packed, scale, zero_point)
        out_strides = list(y.stride())
        return {"values": y.int_repr().contiguous(), "strides": out_strides}

    answer = try_engines(case, run)
    if "torch" in answer:
        out["torch"] = answer["torch"]["values"]
        out["torch_strides"] = answer["torch"]["strides"]
        out["engine"] = answer["engine"]
    else:
        out["torch_error"] = answer["torch_error"]
    return out


# ---- modules -----------------------------------------------------------------------------------


def op_linear_conv_repr(case):
    """str() of a freshly constructed torch module (default weights) with scale/zero_point set."""
    import torch.ao.nn.quantized as nnq
    import torch.ao.nn.quantized.dynamic as nnqd
    import torch.nn.intrinsic.quantized as nniq
    import torch.nn.intrinsic.quantized.dynamic as nniqd
    saved = torch.backends.quantized.engine
    torch.backends.quantized.engine = case.get("engine_for_module", "qnnpack")
    try:
        namespaces = {"nnq": nnq, "nnqd": nnqd, "nniq": nniq, "nniqd": nniqd}
        cls = getattr(namespaces[case["namespace"]], case["name"])
        module = cls(*case["args"], **case.get("kwargs", {}))
        if "scale" in case:
            module.scale = float(case["scale"])
            module.zero_point = int(case["zero_point"])
        return {"repr": str(module)}
    finally:
        torch.backends.quantized.engine = saved


# ---- small networks, converted under one engine --------------------------------------------------


def quantized_module_params(m):
    """A quantized conv/linear module's weights (int8 values, qparams), bias and output qparams."""
    w = m.weight()
    per_channel = w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
    out = {
        "w": w.int_repr(),
        "w_scales": (w.q_per_channel_scales() if per_channel else torch.tensor([w.q_scale()])).to(torch.float64),
        "w_zero_points": (w.q_per_channel_zero_points() if per_channel else torch.tensor([w.q_zero_point()])).to(torch.int32),
        "scale": float(m.scale),
        "zero_point": int(m.zero_point),
    }
    b = m.bias()
    if b is not None:
        out["bias"] = b.detach().to(torch.float32)
    return out


def op_engine_net(case):
    """A small float network (conv1d stack, or a residual conv2d block), fused, calibrated and
    converted with torch.ao.quantization under case["engine"]'s default qconfig; returns every
    quantized module's parameters, the input qparams and torch's quantized logits."""
    import torch.nn as nn
    import torch.ao.quantization as tq

    engine = case["engine"]
    torch.backends.quantized.engine = engine
    torch.manual_seed(int(case["seed"]))
    kind = case["kind"]

    class Conv1dNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
            self.c1, self.r1 = nn.Conv1d(4, 16, 5, padding=2), nn.ReLU()
            self.c2, self.r2 = nn.Conv1d(16, 16, 3, stride=2, groups=4), nn.ReLU()
            self.c3 = nn.Conv1d(16, 8, 3, dilation=2)
            self.fc = nn.Linear(8 * 10, 10)

        def forward(self, x):
            x = self.quant(x)
            x = self.c3(self.r2(self.c2(self.r1(self.c1(x)))))
            return self.dequant(self.fc(torch.flatten(x, 1)))

        fuse = [["c1", "r1"], ["c2", "r2"]]

    class ResidualNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
            self.stem, self.r0 = nn.Conv2d(3, 16, 3, padding=1), nn.ReLU()
            self.a, self.ra = nn.Conv2d(16, 16, 3, padding=1), nn.ReLU()
            self.b = nn.Conv2d(16, 16, 3, padding=1)
            self.dw, self.rdw = nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.ReLU()
            self.skip = nn.quantized.FloatFunctional()
            self.pool = nn.AvgPool2d(2)
            self.fc = nn.Linear(16 * 4 * 4, 10)

        def forward(self, x):
            x = self.r0(self.stem(self.quant(x)))
            y = self.b(self.ra(self.a(x)))
            x = self.skip.add_relu(x, y)
            x = self.pool(self.rdw(self.dw(x)))
            return self.dequant(self.fc(torch.flatten(x, 1)))

        fuse = [["stem", "r0"], ["a", "ra"], ["dw", "rdw"]]

    model = (Conv1dNet if kind == "conv1d" else ResidualNet)().eval()
    shape = [2, 4, 30] if kind == "conv1d" else [2, 3, 8, 8]
    tq.fuse_modules(model, model.fuse, inplace=True)
    model.qconfig = tq.get_default_qconfig(engine)
    tq.prepare(model, inplace=True)
    for _ in range(4):
        model(torch.randn(*shape))
    tq.convert(model, inplace=True)
    x = torch.randn(*shape)
    qx = model.quant(x)
    captured = {}
    handle = model.fc.register_forward_hook(lambda mod, inp, out: captured.update(logits=out))
    model(x)
    handle.remove()
    modules = {name: quantized_module_params(getattr(model, name))
               for name in (["c1", "c2", "c3", "fc"] if kind == "conv1d" else ["stem", "a", "b", "dw", "fc"])}
    out = {
        "x": x.to(torch.float32),
        "x_scale": float(qx.q_scale()),
        "x_zero_point": int(qx.q_zero_point()),
        "modules": modules,
        "logits": captured["logits"].int_repr(),
        "logits_scale": float(captured["logits"].q_scale()),
        "logits_zero_point": int(captured["logits"].q_zero_point()),
    }
    if kind != "conv1d":
        out["skip_scale"] = float(model.skip.scale)
        out["skip_zero_point"] = int(model.skip.zero_point)
    return out


HANDLERS = {
    "engine_net": op_engine_net,
    "linear": op_linear,
    "linear_dynamic": op_linear_dynamic,
    "conv": op_conv,
    "linear_conv_repr": op_linear_conv_repr,
}
