# Oracle handlers of the pool-norm family: pooling, normalization, resampling (torch 1.13, default engine).
#
# Every case carries a quantized input as integers: values, shape, scale, zero_point, dtype and
# the memory format to lay it out in ("format"). Ops PyTorch has no quantized kernel for (the
# beyond-PyTorch ones: max_pool3d, avg_pool1d, adaptive_avg_pool1d, adaptive_max_pool1d/2d,
# batch_norm1d when absent) run the float op on the dequantized input and quantize the result
# with the input's qparams; the case says so in its "float_reference" output.

from oracle_wire import *  # noqa: F401,F403 - torch, np, the wire helpers

import torch.nn.functional as F
import torch.ao.nn.quantized.functional as qF


def quantized_input(case):
    values = case["values"].reshape(list(case["shape"]))
    q = torch._make_per_tensor_quantized_tensor(values, float(case["scale"]), int(case["zero_point"]))
    return q.contiguous(memory_format=MEMORY_FORMATS[case.get("format") or "contiguous_format"])


def through_float(q, fn):
    """The float op on the dequantized input, quantized back with the input's qparams."""
    y = fn(q.dequantize())
    return torch.quantize_per_tensor(y, q.q_scale(), q.q_zero_point(), q.dtype)


def described(y, float_reference=False):
    out = describe_qtensor(y)
    out["float_reference"] = float_reference
    return out


def op_max_pool(case):
    q = quantized_input(case)
    args = dict(kernel_size=case["kernel"], stride=case.get("stride"), padding=case["padding"],
                dilation=case["dilation"], ceil_mode=bool(case["ceil_mode"]))
    if args["stride"] is None:
        del args["stride"]
    dims = case["dims"]
    if dims == 1:
        return described(qF.max_pool1d(q, **args))
    if dims == 2:
        return described(qF.max_pool2d(q, **args))
    return described(through_float(q, lambda x: F.max_pool3d(x, **args)), True)


def op_avg_pool(case):
    q = quantized_input(case)
    args = dict(kernel_size=case["kernel"], stride=case.get("stride"), padding=case["padding"],
                ceil_mode=bool(case["ceil_mode"]), count_include_pad=bool(case["count_include_pad"]),
                divisor_override=case.get("divisor_override"))
    if args["stride"] is None:
        del args["stride"]
    dims = case["dims"]
    if dims == 2:
        return described(qF.avg_pool2d(q, **args))
    if dims == 3:
        return described(qF.avg_pool3d(q, **args))
    del args["divisor_override"]
    # torch 1.13's avg_pool1d is avg_pool2d on the input unsqueezed to (N, C, 1, L): quantized too.
    return described(F.avg_pool1d(q, **args))


def op_adaptive_avg_pool(case):
    q = quantized_input(case)
    size = case["output_size"]
    dims = case["dims"]
    if dims == 2:
        return described(qF.adaptive_avg_pool2d(q, size))
    if dims == 3:
        return described(qF.adaptive_avg_pool3d(q, size))
    # adaptive_avg_pool1d is adaptive_avg_pool2d on (N, C, 1, L) in torch 1.13: quantized too.
    return described(F.adaptive_avg_pool1d(q, size))


def op_adaptive_max_pool(case):
    q = quantized_input(case)
    size = case["output_size"]
    fn = F.adaptive_max_pool1d if case["dims"] == 1 else F.adaptive_max_pool2d
    return described(through_float(q, lambda x: fn(x, size)), True)


def op_interpolate(case):
    q = quantized_input(case)
    kwargs = dict(size=case.get("size"), scale_factor=case.get("scale_factor"), mode=case["mode"],
                  align_corners=case.get("align_corners"))
    if case.get("recompute_scale_factor") is not None:
        kwargs["recompute_scale_factor"] = case["recompute_scale_factor"]
    if q.dim() == 3:
        # torch 1.13 has no quantized upsample_nearest1d: the float op on the dequantized input.
        return described(through_float(q, lambda x: F.interpolate(x, **kwargs)), True)
    if "recompute_scale_factor" in kwargs:
        return described(F.interpolate(q, **kwargs))
    return described(qF.interpolate(q, **kwargs))


def op_batch_norm(case):
    q = quantized_input(case)
    args = (case.get("weight"), case.get("bias"), case["mean"], case["var"], float(case["eps"]),
            float(case["out_scale"]), int(case["out_zero_point"]))
    name = {2: "batch_norm1d", 3: "batch_norm1d", 4: "batch_norm2d", 5: "batch_norm3d"}[q.dim()]
    if case.get("relu"):
        name += "_relu"
    return described(getattr(torch.ops.quantized, name)(q, *args))


def op_layer_norm(case):
    q = quantized_input(case)
    shape = list(case["normalized_shape"])
    weight = case["weight"].reshape(shape) if case.get("weight") is not None else None
    bias = case["bias"].reshape(shape) if case.get("bias") is not None else None
    y = torch.ops.quantized.layer_norm(q, shape, weight, bias,
                                       float(case["eps"]), float(case["out_scale"]), int(case["out_zero_point"]))
    return described(y)


def op_group_norm(case):
    q = quantized_input(case)
    y = torch.ops.quantized.group_norm(q, int(case["num_groups"]), case.get("weight"), case.get("bias"),
                                       float(case["eps"]), float(case["out_scale"]), int(case["out_zero_point"]))
    return described(y)


def op_instance_norm(case):
    q = quantized_input(case)
    y = torch.ops.quantized.instance_norm(q, case.get("weight"), case.get("bias"), float(case["eps"]),
                                          float(case["out_scale"]), int(case["out_zero_point"]))
    return described(y)


HANDLERS = {
    "pool_norm.max_pool": op_max_pool,
    "pool_norm.avg_pool": op_avg_pool,
    "pool_norm.adaptive_avg_pool": op_adaptive_avg_pool,
    "pool_norm.adaptive_max_pool": op_adaptive_max_pool,
    "pool_norm.interpolate": op_interpolate,
    "pool_norm.batch_norm": op_batch_norm,
    "pool_norm.layer_norm": op_layer_norm,
    "pool_norm.group_norm": op_group_norm,
    "pool_norm.instance_norm": op_instance_norm,
}
