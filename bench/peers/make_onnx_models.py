# onnxruntime peer of the qkernels benchmark: writes one quantized ONNX model per benchmark shape with Debian's python3-onnx.
#
#   /usr/bin/python3 make_onnx_models.py shapes.json outdir
# writes outdir/<id>.onnx for every shape (the dicts bench/lib/shapes.js writes, with the same
# int8 weights and float bias files as the other engines) and prints a JSON list
# [{"id", "file", "op"} or {"id", "error"}].
#   linear          QLinearMatMul(x u8 [m,k], W^T s8 [k,n]); ONNX's QLinearMatMul has no bias input,
#                   so the onnxruntime linear runs without bias (the others add one; negligible work).
#   conv            QLinearConv(x u8 NC[D][H]W, W s8, int32 bias = round(bias / (x_scale*w_scale))).
#   transposed conv ONNX has no quantized ConvTranspose: DequantizeLinear -> ConvTranspose ->
#                   QuantizeLinear (the QDQ form; onnxruntime fuses what it has kernels for).
# Opset 13; weights per-tensor symmetric (zero point 0) like the other engines.
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def scalar(name, value, dtype):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def qparams(shape):
    return [
        scalar("x_scale", shape["xScale"], np.float32), scalar("x_zero_point", shape["xZeroPoint"], np.uint8),
        scalar("w_scale", shape["wScale"], np.float32), scalar("w_zero_point", 0, np.int8),
        scalar("y_scale", shape["yScale"], np.float32), scalar("y_zero_point", shape["yZeroPoint"], np.uint8),
    ]


def linear_model(shape, w, bias):
    m, k, n = shape["m"], shape["k"], shape["n"]
    inits = qparams(shape) + [numpy_helper.from_array(np.ascontiguousarray(w.reshape(n, k).T), "w")]
    node = helper.make_node("QLinearMatMul", ["x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point",
                                              "y_scale", "y_zero_point"], ["y"])
    x = helper.make_tensor_value_info("x", TensorProto.UINT8, [m, k])
    y = helper.make_tensor_value_info("y", TensorProto.UINT8, [m, n])
    return helper.make_graph([node], shape["id"], [x], [y], inits), "QLinearMatMul"


def conv_attrs(shape):
    dims = shape["dims"]
    pads = list(shape["padding"]) * 2  # begins then ends
    attrs = dict(kernel_shape=list(shape["kernel"]), strides=list(shape["stride"]), pads=pads,
                 group=shape["groups"], dilations=[1] * dims)
    if shape["transposed"]:
        attrs["output_padding"] = list(shape["outputPadding"])
    return attrs


def conv_model(shape, w, bias):
    dims, cin, cout, groups = shape["dims"], shape["cin"], shape["cout"], shape["groups"]
    kernel = list(shape["kernel"])
    x_dims = [shape["batch"], cin] + list(shape["spatial"])
    y_dims = [shape["batch"], cout] + list(shape["outSpatial"])
    x = helper.make_tensor_value_info("x", TensorProto.UINT8, x_dims)
    y = helper.make_tensor_value_info("y", TensorProto.UINT8, y_dims)
    if not shape["transposed"]:
        w = w.reshape([cout, cin // groups] + kernel)
        b = np.round(bias.astype(np.float64) / (np.float64(np.float32(shape["xScale"])) *
                                               np.float64(np.float32(shape["wScale"])))).astype(np.int32)
        inits = qparams(shape) + [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
        node = helper.make_node("QLinearConv", ["x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point",
                                                "y_scale", "y_zero_point", "b"], ["y"], **conv_attrs(shape))
        return helper.make_graph([node], shape["id"], [x], [y], inits), "QLinearConv"
    w = w.reshape([cin, cout // groups] + kernel)
    inits = qparams(shape) + [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")]
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "x_scale", "x_zero_point"], ["xf"]),
        helper.make_node("DequantizeLinear", ["w", "w_scale", "w_zero_point"], ["wf"]),
        helper.make_node("ConvTranspose", ["xf", "wf", "b"], ["yf"], **conv_attrs(shape)),
        helper.make_node("QuantizeLinear", ["yf", "y_scale", "y_zero_point"], ["y"]),
    ]
    return helper.make_graph(nodes, shape["id"], [x], [y], inits), "DequantizeLinear+ConvTranspose+QuantizeLinear"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_onnx_models.py shapes.json outdir")
    with open(sys.argv[1]) as f:
        shapes = json.load(f)
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    out = []
    for shape in shapes:
        try:
            w = np.fromfile(shape["weightFile"], dtype=np.int8)
            bias = np.fromfile(shape["biasFile"], dtype=np.float32)
            graph, op = (linear_model if shape["kind"] == "linear" else conv_model)(shape, w, bias)
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                      producer_name="qkernels-bench")
            model.ir_version = 7  # opset 13's IR; every onnxruntime release of the last years loads it
            onnx.checker.check_model(model)
            path = os.path.join(outdir, shape["id"] + ".onnx")
            onnx.save(model, path)
            out.append({"id": shape["id"], "file": path, "op": op})
        except Exception as e:
            out.append({"id": shape["id"], "error": f"{type(e).__name__}: {e}"})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
