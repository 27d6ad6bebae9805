# Oracle handlers of the elementwise family: activations, quantized arithmetic, cat, FloatFunctional, tensor ops on QTensors.

from oracle_wire import *  # noqa: F401,F403 - torch, np, the wire helpers

import torch.ao.nn.quantized as nnq
import torch.ao.nn.quantized.functional as qF


def qinput(spec):
    """A quantized tensor from integer values (as op dequantize) after spec["steps"] (view steps,
    e.g. [["contiguous", "channels_last"]])."""
    q = make_quantized_from_ints(spec)
    for step in spec.get("steps") or []:
        q = apply_view_step(q, step)
    return q


def opt(args, name, default=None):
    value = args.get(name)
    return default if value is None else value


UNARY = {
    "relu": lambda q, a: torch.relu(q),
    "relu6": lambda q, a: torch.nn.functional.relu6(q),
    "ops_relu6": lambda q, a: torch.ops.quantized.relu6(q, False),
    "hardtanh": lambda q, a: qF.hardtanh(q, opt(a, "min_val", -1.0), opt(a, "max_val", 1.0)),
    "clamp": lambda q, a: qF.clamp(q, a.get("min"), a.get("max")),
    "hardswish": lambda q, a: qF.hardswish(q, a["scale"], a["zero_point"]),
    "elu": lambda q, a: qF.elu(q, a["scale"], a["zero_point"], opt(a, "alpha", 1.0)),
    "ops_elu": lambda q, a: torch.ops.quantized.elu(q, a["scale"], a["zero_point"], opt(a, "alpha", 1.0),
                                                    opt(a, "coef", 1.0), opt(a, "input_scale", 1.0)),
    "celu": lambda q, a: qF.celu(q, a["scale"], a["zero_point"], opt(a, "alpha", 1.0)),
    "leaky_relu": lambda q, a: qF.leaky_relu(q, opt(a, "negative_slope", 0.01), False, a.get("scale"), a.get("zero_point")),
    "ops_leaky_relu": lambda q, a: torch.ops.quantized.leaky_relu(q, a["negative_slope"], False, a["scale"], a["zero_point"]),
    "hardsigmoid": lambda q, a: qF.hardsigmoid(q),
    "sigmoid": lambda q, a: torch.sigmoid(q),
    "ops_sigmoid": lambda q, a: torch.ops.quantized.sigmoid(q, a["scale"], a["zero_point"]),
    "tanh": lambda q, a: torch.tanh(q),
    "threshold": lambda q, a: qF.threshold(q, a["threshold"], a["value"]),
    "softmax": lambda q, a: torch.ops.quantized.softmax(q, a["dim"], a["scale"], a["zero_point"]),
    "nnq_softmax": lambda q, a: nnq.Softmax(a.get("dim"), opt(a, "scale", 1.0), opt(a, "zero_point", 0))(q),
    "add_scalar": lambda q, a: torch.ops.quantized.add_scalar(q, a["other"]),
    "add_scalar_relu": lambda q, a: torch.ops.quantized.add_scalar_relu(q, a["other"]),
    "mul_scalar": lambda q, a: torch.ops.quantized.mul_scalar(q, a["other"]),
    "mul_scalar_relu": lambda q, a: torch.ops.quantized.mul_scalar_relu(q, a["other"]),
    "dropout": lambda q, a: nnq.Dropout(opt(a, "p", 0.5)).eval()(q),
}


def op_ew_unary(case):
    """One quantized activation / scalar op (case["fn"], a key of UNARY) on case["input"]."""
    q = qinput(case["input"])
    return describe_qtensor(UNARY[case["fn"]](q, case.get("args") or {}))


def op_ew_prelu(case):
    """torch.ops.quantized.prelu(input, weight, scale, zero_point)."""
    y = torch.ops.quantized.prelu(qinput(case["input"]), qinput(case["weight"]), case["scale"], case["zero_point"])
    return describe_qtensor(y)


BINARY = {
    "add": torch.ops.quantized.add,
    "add_relu": torch.ops.quantized.add_relu,
    "mul": torch.ops.quantized.mul,
    "mul_relu": torch.ops.quantized.mul_relu,
}


def op_ew_binary(case):
    """torch.ops.quantized.<fn>(a, b, scale, zero_point) for fn in add, add_relu, mul, mul_relu."""
    y = BINARY[case["fn"]](qinput(case["a"]), qinput(case["b"]), case["scale"], case["zero_point"])
    return describe_qtensor(y)


def op_ew_cat(case):
    """torch.ops.quantized.cat(inputs, dim, scale, zero_point) (scale / zero_point may be null)."""
    xs = [qinput(spec) for spec in case["inputs"]]
    return describe_qtensor(torch.ops.quantized.cat(xs, case["dim"], case.get("scale"), case.get("zero_point")))


def op_ew_float(case):
    """FloatFunctional's operations on float tensors: fn in add, add_scalar, mul, mul_scalar, cat, add_relu."""
    f = nnq.FloatFunctional()
    fn = case["fn"]
    if fn == "cat":
        y = f.cat(list(case["xs"]), case.get("dim", 0))
    elif fn in ("add_scalar", "mul_scalar"):
        y = getattr(f, fn)(case["x"], case["other"])
    else:
        y = getattr(f, fn)(case["x"], case["y"])
    return {"values": y.contiguous(), "shape": list(y.shape)}


def op_ew_matmul(case):
    """torch.ops.quantized.matmul(a, b, scale, zero_point) (fn "quantized"; with "product", the fp32
    torch.matmul of the dequantized operands it quantizes, to locate rounding boundaries) or
    torch.matmul(x, y) on float tensors (fn "float": torch 2.x's FloatFunctional.matmul, which
    torch 1.13's FloatFunctional lacks)."""
    if case["fn"] == "float":
        y = torch.matmul(case["x"], case["y"])
        return {"values": y.contiguous(), "shape": list(y.shape)}
    qa, qb = qinput(case["a"]), qinput(case["b"])
    out = describe_qtensor(torch.ops.quantized.matmul(qa, qb, case["scale"], case["zero_point"]))
    out["product"] = torch.matmul(qa.dequantize(), qb.dequantize()).contiguous()
    return out


def op_ew_tensor_op(case):
    """A tensor operation on a quantized tensor (case["fn"]: transpose, narrow, slice, chunk, split,
    unsqueeze, squeeze, mean); returns the results (one or a list) described, with shares_storage."""
    q = qinput(case["input"])
    a = case.get("args") or {}
    fn = case["fn"]
    if fn == "transpose":
        out = q.transpose(a["dim0"], a["dim1"])
    elif fn == "narrow":
        out = q.narrow(a["dim"], a["start"], a["length"])
    elif fn == "slice":
        index = [slice(None)] * q.dim()
        index[a["dim"]] = slice(a.get("start"), a.get("end"), a.get("step", 1))
        out = q[tuple(index)]
    elif fn == "chunk":
        out = list(q.chunk(a["chunks"], a["dim"]))
    elif fn == "split":
        out = list(q.split(a["split"], a["dim"]))
    elif fn == "unsqueeze":
        out = q.unsqueeze(a["dim"])
    elif fn == "squeeze":
        out = q.squeeze() if a.get("dim") is None else q.squeeze(a["dim"])
    elif fn == "mean":
        out = q.mean(a["dim"], keepdim=a.get("keepdim", False)) if a.get("dim") is not None else q.mean()
    else:
        raise ValueError("unknown tensor op %r" % (fn,))
    outs = out if isinstance(out, list) else [out]
    described = []
    for y in outs:
        d = describe_qtensor(y)
        d["shares_storage"] = bool(y.storage().data_ptr() == q.storage().data_ptr())
        described.append(d)
    return {"results": described}


HANDLERS = {
    "ew_unary": op_ew_unary,
    "ew_prelu": op_ew_prelu,
    "ew_binary": op_ew_binary,
    "ew_cat": op_ew_cat,
    "ew_float": op_ew_float,
    "ew_matmul": op_ew_matmul,
    "ew_tensor_op": op_ew_tensor_op,
}
