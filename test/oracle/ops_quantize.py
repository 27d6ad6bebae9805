# Oracle handlers of the quantize family: quantize/dequantize, views, repr, nnq.Quantize.

from oracle_wire import *  # noqa: F401,F403 - torch, np, the wire helpers


def op_quantize_per_tensor(case):
    """torch.quantize_per_tensor(x, scale, zero_point, dtype)."""
    q = torch.quantize_per_tensor(input_in_format(case), float(case["scale"]), int(case["zero_point"]), qdtype(case["dtype"]))
    return describe_qtensor(q)


def op_quantize_per_channel(case):
    """torch.quantize_per_channel(x, scales, zero_points, axis, dtype); float zero points select
    per_channel_affine_float_qparams (scales go in as float64, torch converts them as it does)."""
    q = torch.quantize_per_channel(
        input_in_format(case), case["scales"], case["zero_points"], int(case["axis"]), qdtype(case["dtype"])
    )
    return describe_qtensor(q)


def op_quantize_per_tensor_dynamic(case):
    """torch.quantize_per_tensor_dynamic(x, dtype, reduce_range): the chosen qparams and values."""
    q = torch.quantize_per_tensor_dynamic(case["x"], qdtype(case["dtype"]), bool(case["reduce_range"]))
    return describe_qtensor(q)


def op_dequantize(case):
    """Dequantize integer values under given qparams (per tensor: scale/zero_point; per channel:
    scales/zero_points/axis; float zero points select float qparams)."""
    return describe_qtensor(make_quantized_from_ints(case))


def op_int_repr(case):
    """torch's packed int_repr of quint4x2 values 0..15 given one per element (quantized with
    scale 1, zero point 0, so element i becomes the nibble it names)."""
    values = case["values"]
    q = torch.quantize_per_tensor(values.to(torch.float32), 1.0, 0, qdtype(case.get("dtype", "quint4x2")))
    return {"int_repr": q.int_repr()}


def op_view_chain(case):
    """Builds a quantized tensor from integer values (as op dequantize) and applies steps such as
    ["permute", [0, 2, 3, 1]], ["reshape", [6, -1]], ["view", [-1]], ["flatten", [1, 2]],
    ["contiguous", "channels_last"]; returns the final tensor, is_contiguous per memory format
    and shares_storage (whether the result is a view of the tensor it started from)."""
    original = make_quantized_from_ints(case)
    q = original
    for step in case["steps"]:
        q = apply_view_step(q, step)
    out = describe_qtensor(q)
    out["shares_storage"] = bool(q.storage().data_ptr() == original.storage().data_ptr())
    out["is_contiguous"] = {name: bool(q.is_contiguous(memory_format=fmt)) for name, fmt in MEMORY_FORMATS.items()
                            if name == "contiguous_format" or (name == "channels_last" and q.dim() == 4)
                            or (name == "channels_last_3d" and q.dim() == 5)}
    return out


def op_dequantized_view_chain(case):
    """Dequantizes a quantized tensor built from integer values (any qscheme or dtype), then applies
    the steps to the float result: the expectation for views torch cannot take of quantized tensors
    (per-channel and quint4x2 permutes)."""
    x = make_quantized_from_ints(case).dequantize()
    for step in case["steps"]:
        x = apply_view_step(x, step)
    return {"values": x.contiguous(), "shape": list(x.shape), "strides": list(x.stride())}


def op_repr(case):
    """str() of a quantized tensor built from integer values, as torch prints it."""
    return {"repr": str(make_quantized_from_ints(case))}


def op_float_view_chain(case):
    """The same steps on a float tensor (the expectation for per-channel and quint4x2 tensors,
    which torch 1.13 cannot permute): returns the values in logical order, shape and strides."""
    x = case["x"]
    for step in case["steps"]:
        x = apply_view_step(x, step)
    return {"values": x.contiguous(), "shape": list(x.shape), "strides": list(x.stride())}


def op_nnq_quantize(case):
    """torch.ao.nn.quantized.Quantize(scale, zero_point, dtype) applied to x (the module keeps
    scale in a float32 buffer); also its repr and DeQuantize's."""
    import torch.ao.nn.quantized as nnq

    module = nnq.Quantize(float(case["scale"]), int(case["zero_point"]), qdtype(case["dtype"]))
    out = describe_qtensor(module(input_in_format(case)))
    out["module_repr"] = repr(module)
    out["dequantize_module_repr"] = repr(nnq.DeQuantize())
    return out


def op_ping(case):
    """Versions and engines: lets a test name what it compared against."""
    return {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "engines": list(torch.backends.quantized.supported_engines),
        "engine": torch.backends.quantized.engine,
        "echo": case.get("echo"),
    }


HANDLERS = {
    "ping": op_ping,
    "quantize_per_tensor": op_quantize_per_tensor,
    "quantize_per_channel": op_quantize_per_channel,
    "quantize_per_tensor_dynamic": op_quantize_per_tensor_dynamic,
    "dequantize": op_dequantize,
    "int_repr": op_int_repr,
    "view_chain": op_view_chain,
    "float_view_chain": op_float_view_chain,
    "dequantized_view_chain": op_dequantized_view_chain,
    "repr": op_repr,
    "nnq_quantize": op_nnq_quantize,
}
