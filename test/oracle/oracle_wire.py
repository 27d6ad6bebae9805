# The oracle's shared part: torch import, the wire encoding, and quantized-tensor helpers every ops_*.py uses.
#
# Family modules do `from oracle_wire import *` (this module has no __all__, so every
# public name comes along: torch, np, decode, encode, qdtype, int_repr, ...).

import base64
import json
import math
import os
import sys
import traceback

try:
    import numpy as np
    import torch
except Exception as import_error:  # noqa: BLE001 - any import failure means "no oracle here"
    sys.stderr.write(
        "qkernels oracle: cannot import torch/numpy with %s (%s: %s). "
        "Install Debian's python3-torch (apt-get install --no-install-recommends python3-torch) "
        "or set QKERNELS_SKIP_ORACLE=1 to skip the oracle-based tests.\n"
        % (sys.executable, type(import_error).__name__, import_error)
    )
    sys.exit(3)

NUMPY_DTYPES = {
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
    "uint8": np.dtype("u1"),
    "int8": np.dtype("i1"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
}
TORCH_TO_WIRE = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.uint8: "uint8",
    torch.int8: "int8",
    torch.int32: "int32",
    torch.int64: "int64",
}
QDTYPES = {
    "quint8": torch.quint8,
    "qint8": torch.qint8,
    "qint32": torch.qint32,
    "quint4x2": torch.quint4x2,
}
QDTYPE_NAMES = {v: k for k, v in QDTYPES.items()}
QSCHEME_NAMES = {
    torch.per_tensor_affine: "per_tensor_affine",
    torch.per_channel_affine: "per_channel_affine",
    torch.per_channel_affine_float_qparams: "per_channel_affine_float_qparams",
}
# The integer dtype of torch's int_repr() for each quantized dtype (quint4x2 is packed bytes).
INT_REPR_DTYPES = {"quint8": torch.uint8, "qint8": torch.int8, "qint32": torch.int32, "quint4x2": torch.uint8}
MEMORY_FORMATS = {
    "contiguous_format": torch.contiguous_format,
    "channels_last": torch.channels_last,
    "channels_last_3d": torch.channels_last_3d,
}
SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}


# ---------------------------------------------------------------------------------------------
# Wire encoding


def decode(value):
    """Turns the wire form into Python values: arrays become torch tensors, special floats floats."""
    if isinstance(value, dict):
        if "$array" in value:
            dtype = NUMPY_DTYPES[value["$array"]]
            raw = base64.b64decode(value["b64"])
            flat = np.frombuffer(raw, dtype=dtype).copy()
            return torch.from_numpy(flat.astype(dtype.newbyteorder("="))).reshape(value["shape"])
        if "$f64" in value:
            return SPECIAL_FLOATS[value["$f64"]]
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def encode(value):
    """Turns results into the wire form: tensors to base64 arrays, non-JSON floats to {"$f64"}."""
    if isinstance(value, torch.Tensor):
        if value.is_quantized:
            raise TypeError("internal: encode a quantized tensor's int_repr(), not the tensor")
        wire = TORCH_TO_WIRE[value.dtype]
        array = value.detach().contiguous().numpy().astype(NUMPY_DTYPES[wire], copy=False)
        return {"$array": wire, "shape": list(value.shape), "b64": base64.b64encode(array.tobytes()).decode("ascii")}
    if isinstance(value, float):
        if math.isnan(value):
            return {"$f64": "NaN"}
        if math.isinf(value):
            return {"$f64": "Infinity" if value > 0 else "-Infinity"}
        if value == 0.0 and math.copysign(1.0, value) < 0:
            return {"$f64": "-0"}
        return value
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# Helpers shared by the handlers


def qdtype(name):
    if name not in QDTYPES:
        raise ValueError("unknown quantized dtype %r" % (name,))
    return QDTYPES[name]


def packed_int_repr(q):
    """int_repr() of a quint4x2 tensor in logical order, read from its storage: torch 1.13's own
    int_repr() raises for a channels_last quint4x2 tensor ("required rank 4 tensor to use
    channels_last format"). Storage holds element 2i of memory order in the low nibble of byte i."""
    storage = torch.empty(0, dtype=torch.uint8)
    storage.set_(q.storage().untyped())
    nibbles = torch.stack([storage & 15, storage >> 4], dim=1).flatten()
    logical = torch.as_strided(nibbles, q.shape, q.stride(), q.storage_offset()).contiguous().flatten()
    if logical.numel() % 2:
        logical = torch.cat([logical, torch.zeros(1, dtype=torch.uint8)])
    pairs = logical.reshape(-1, 2)
    return pairs[:, 0] | (pairs[:, 1] << 4)


def int_repr(q):
    if q.dtype == torch.quint4x2 and not q.is_contiguous():
        return packed_int_repr(q)
    return q.int_repr()


def describe_qtensor(q):
    """Everything a test may compare about a quantized tensor. Arrays go in logical (row-major)
    order whatever the memory format; strides say the layout."""
    dequantized = q.dequantize()
    out = {
        "dtype": QDTYPE_NAMES[q.dtype],
        "qscheme": QSCHEME_NAMES[q.qscheme()],
        "shape": list(q.shape),
        "strides": list(q.stride()),
        "int_repr": int_repr(q),
        "dequant": dequantized,
        "dequant_strides": list(dequantized.stride()),
    }
    if q.qscheme() == torch.per_tensor_affine:
        out["scale"] = float(q.q_scale())
        out["zero_point"] = int(q.q_zero_point())
    else:
        out["scales"] = q.q_per_channel_scales().to(torch.float64)
        zero_points = q.q_per_channel_zero_points()
        out["zero_points"] = zero_points.to(torch.float32 if zero_points.is_floating_point() else torch.int64)
        out["axis"] = int(q.q_per_channel_axis())
    return out


def make_quantized_from_ints(case):
    """torch._make_per_{tensor,channel}_quantized_tensor; quint4x2 (which they cannot make)
    is built empty with the qparams and its storage overwritten with the packed bytes."""
    values = case["values"]
    dtype_name = case["dtype"]
    shape = list(case["shape"])
    per_channel = "scales" in case
    if dtype_name == "quint4x2":
        if per_channel:
            q = torch._empty_per_channel_affine_quantized(
                shape,
                scales=case["scales"],
                zero_points=case["zero_points"],
                axis=case["axis"],
                dtype=torch.quint4x2,
            )
        else:
            q = torch._empty_affine_quantized(
                shape, scale=case["scale"], zero_point=case["zero_point"], dtype=torch.quint4x2
            )
        packed = values.to(torch.uint8).flatten()
        expected = (q.numel() + 1) // 2
        if packed.numel() != expected:
            raise ValueError("quint4x2 needs %d packed bytes for %d elements, got %d" % (expected, q.numel(), packed.numel()))
        storage = q.storage().untyped()
        # torch may allocate more bytes than ceil(numel/2); keep the tail zero.
        padded = torch.zeros(storage.nbytes(), dtype=torch.uint8)
        padded[:expected] = packed
        storage.copy_(padded.storage().untyped())
        return q
    ints = values.reshape(shape)
    if ints.dtype != INT_REPR_DTYPES[dtype_name]:
        raise ValueError("values of dtype %s cannot make a %s tensor" % (ints.dtype, dtype_name))
    if per_channel:
        return torch._make_per_channel_quantized_tensor(ints, case["scales"], case["zero_points"], case["axis"])
    return torch._make_per_tensor_quantized_tensor(ints, case["scale"], case["zero_point"])


# ---------------------------------------------------------------------------------------------
# Op handlers: each takes the decoded case and returns a dict of outputs (or raises).


def input_in_format(case):
    """The float input x after case["input_steps"] (view steps as in op view_chain, e.g.
    [["contiguous", "channels_last"]] or [["permute", [1, 0]]]); x itself when there are none."""
    x = case["x"]
    for step in case.get("input_steps") or []:
        x = apply_view_step(x, step)
    return x


def apply_view_step(q, step):
    name, arg = step[0], step[1] if len(step) > 1 else None
    if name == "permute":
        return q.permute(*arg)
    if name == "reshape":
        return q.reshape(arg)
    if name == "view":
        return q.view(arg)
    if name == "flatten":
        return q.flatten(*arg)
    if name == "contiguous":
        return q.contiguous(memory_format=MEMORY_FORMATS[arg or "contiguous_format"])
    raise ValueError("unknown view step %r" % (name,))
