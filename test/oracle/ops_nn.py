# Oracle ops for nn.Module state dicts: build a torch module, randomize its state, run it, and return state_dict(), repr and outputs.
#
# Case fields:
#   build    a Python expression (evaluated with torch, nn, nnq, nnqd, nniq, nniqd, tq in scope)
#            giving the module; a converted model may be built with the helper convert_model().
#   seed     the seed of every random value (weights, qparams, inputs)
#   inputs   a list of input specs: {"float": shape} | {"quint8": shape} | {"qint8": shape}
#            | {"indices": [values]} (int64) ; quantized inputs get random qparams
#   call     the method to call (default "forward")
#   setup    optional Python statements run first (class definitions for `build`)
#   converted  true when `build` already gives calibrated qparams (no randomize)
# Result:
#   state    [[key, value], ...] in state_dict order; value: {"qtensor": describe_qtensor},
#            {"tensor": array, "dtype": torch dtype name}, {"str": s}, {"list": [values]},
#            {"none": true}, {"number": n}
#   repr     repr(module); inputs (each {"qtensor": ...} or {"tensor": ...}); output likewise

from oracle_wire import describe_qtensor, encode, torch  # noqa: F401 - torch used by eval'd builds

import torch.ao.nn.quantized as nnq
import torch.ao.nn.quantized.dynamic as nnqd
import torch.nn as nn
import torch.nn.intrinsic.quantized as nniq
import torch.nn.intrinsic.quantized.dynamic as nniqd
import torch.ao.quantization as tq


def random_qparams(gen):
    scale = float(torch.empty(1).uniform_(0.01, 0.1, generator=gen))
    zero_point = int(torch.randint(60, 190, (1,), generator=gen))
    return scale, zero_point


def per_channel_qint8(w, axis):
    """Random float weights quantized per channel (symmetric-ish), as a converted model holds them."""
    amax = w.abs().amax(dim=[d for d in range(w.dim()) if d != axis]).clamp(min=1e-3)
    scales = (amax / 127).double()
    zero_points = torch.zeros(w.shape[axis], dtype=torch.int64)
    return torch.quantize_per_channel(w, scales, zero_points, axis, torch.qint8)


def randomize(module, gen):
    """Random weights and qparams for every quantized module in the tree (in place)."""
    for m in module.modules():
        if hasattr(m, "set_weight_bias") and hasattr(m, "weight") and callable(m.weight):
            w = m.weight()
            b = m.bias()
            wf = torch.randn(w.shape, generator=gen) * 0.3
            if "Transpose" in type(m).__name__:
                # torch 1.13: "Per Channel Quantization is currently disabled for transposed conv"
                qw = torch.quantize_per_tensor(wf, float(wf.abs().max()) / 127, 0, torch.qint8)
            else:
                qw = per_channel_qint8(wf, 0)
            qb = None if b is None else torch.randn(b.shape, generator=gen)
            m.set_weight_bias(qw, qb)
        if isinstance(m, (nnq.Embedding, nnq.EmbeddingBag)):
            # m.dtype, not m.weight().dtype: torch 1.13's fresh 4-bit module holds a quint8 placeholder.
            wf = torch.randn(m.weight().shape, generator=gen)
            observer = tq.PerChannelMinMaxObserver(ch_axis=0, dtype=m.dtype, qscheme=torch.per_channel_affine_float_qparams)
            observer(wf)
            scales, zero_points = observer.calculate_qparams()
            m.set_weight(torch.quantize_per_channel(wf, scales.float(), zero_points.float(), 0, m.dtype))
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen))
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(int(torch.randint(0, 100, (1,), generator=gen)))
        elif isinstance(m, (nnq.LayerNorm, nnq.GroupNorm, nnq.InstanceNorm1d, nnq.InstanceNorm2d, nnq.InstanceNorm3d)):
            with torch.no_grad():
                if m.weight is not None:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen))
        if isinstance(m, nnq.Quantize):
            scale, zero_point = random_qparams(gen)
            m.scale.fill_(scale)
            m.zero_point.fill_(zero_point)
        elif "scale" in m.state_dict() and "zero_point" in m.state_dict() and not isinstance(m, nnqd.Linear):
            scale, zero_point = random_qparams(gen)
            if isinstance(m.scale, torch.Tensor):
                m.scale.fill_(scale)
                m.zero_point.fill_(zero_point)
            else:
                m.scale = scale
                m.zero_point = zero_point
    return module


def encode_value(value):
    if value is None:
        return {"none": True}
    if isinstance(value, torch.Tensor):
        if value.is_quantized:
            # Encoded now: torch 1.13's q_per_channel_zero_points() of an unpacked embedding weight
            # is a view that dangles once the weight is freed (garbage by the time the batch is sent).
            return {"qtensor": encode(describe_qtensor(value))}
        return {"tensor": value.detach().contiguous(), "dtype": str(value.dtype).replace("torch.", "")}
    if isinstance(value, (list, tuple)):
        return {"list": [encode_value(v) for v in value]}
    if isinstance(value, (torch.dtype, torch.qscheme)):
        return {"str": str(value)}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, (int, float, bool)):
        return {"number": value}
    raise TypeError("cannot encode state value of type %s" % type(value).__name__)


def make_input(spec, gen):
    if "float" in spec:
        return torch.randn(spec["float"], generator=gen) * 2
    if "indices" in spec:
        return torch.tensor(spec["indices"], dtype=torch.int64)
    for name, dtype in (("quint8", torch.quint8), ("qint8", torch.qint8)):
        if name in spec:
            x = torch.randn(spec[name], generator=gen) * 2
            scale, zero_point = random_qparams(gen)
            if dtype == torch.qint8:
                zero_point -= 128
            q = torch.quantize_per_tensor(x, scale, zero_point, dtype)
            if spec.get("channels_last"):
                q = q.contiguous(memory_format=torch.channels_last)
            return q
    raise ValueError("unknown input spec %r" % (spec,))


def convert_model(float_model, example_shapes, gen, fuse=None):
    """Eager-mode post-training quantization (onednn qconfig) calibrated on random inputs."""
    float_model.eval()
    if fuse:
        float_model = tq.fuse_modules(float_model, fuse)
    float_model.qconfig = tq.get_default_qconfig("onednn")
    prepared = tq.prepare(float_model)
    with torch.no_grad():
        for _ in range(4):
            prepared(*[torch.randn(s, generator=gen) * 2 for s in example_shapes])
    return tq.convert(prepared)


def nn_module(case):
    gen = torch.Generator().manual_seed(int(case.get("seed", 0)))
    scope = dict(torch=torch, nn=nn, nnq=nnq, nnqd=nnqd, nniq=nniq, nniqd=nniqd, tq=tq, gen=gen, convert_model=convert_model)
    if case.get("setup"):
        exec(case["setup"], scope)  # noqa: S102 - the test's own class definitions
    module = eval(case["build"], scope)  # noqa: S307 - the test's own expressions
    if not case.get("converted"):
        randomize(module, gen)
    module.eval()
    inputs = [make_input(spec, gen) for spec in case.get("inputs", [])]
    out = {"state": [[k, encode_value(v)] for k, v in module.state_dict().items()], "repr": repr(module)}
    out["inputs"] = [encode_value(x) for x in inputs]
    if case.get("call") is not None or inputs:
        with torch.no_grad():
            call = case.get("call") or "forward"
            y = module.cat(inputs) if call == "cat" else getattr(module, call)(*inputs)
        out["output"] = encode_value(y)
    return out


HANDLERS = {"nn_module": nn_module}
