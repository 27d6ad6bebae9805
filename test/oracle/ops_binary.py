# Oracle handlers of the binary family: bitorch's layer forwards and unit_scaling's conv1d, rebuilt from torch float ops.
#
# Neither bitorch nor unit_scaling is installable here; their inference forwards are a few
# lines of torch each. Every function below names the bitorch / unit_scaling lines it mirrors
# (hpi-xnor/bitorch, graphcore-research/unit-scaling).

from oracle_wire import *  # noqa: F401,F403 - torch, np, the wire helpers

import math as _math
import torch.nn.functional as F


# ---- bitorch.quantizations (forward of each autograd Function) ---------------------------------

def _sign(x):
    # sign.py SignFunction.forward / approx_sign.py / swish_sign.py forward / progressive_sign.py
    # (eval branch: SignFunction.apply):
    #   sign_tensor = torch.sign(input_tensor)
    #   sign_tensor = torch.where(sign_tensor == 0, torch.tensor(1.0), sign_tensor)
    s = torch.sign(x)
    return torch.where(s == 0, torch.tensor(1.0), s)


def _steheaviside(x):
    # ste_heaviside.py SteHeavisideFunction.forward: torch.where(input_tensor > 0, 1.0, -1.0)
    return torch.where(x > 0, torch.tensor(1.0), torch.tensor(-1.0))


def _inputdorefa(x, bits):
    # dorefa.py InputDoReFaFunction.forward:
    #   max_value = 2**bits - 1
    #   quantized_tensor = torch.round(torch.clamp(input_tensor, 0, 1) * max_value) / max_value
    max_value = 2 ** bits - 1
    return torch.round(torch.clamp(x, 0, 1) * max_value) / max_value


def _weightdorefa(x, bits):
    # dorefa.py WeightDoReFaFunction.forward (maximum_bit_value = 2**bits - 1):
    #   squashed_values = torch.tanh(input_tensor)
    #   max_val = torch.max(torch.abs(squashed_values)).detach()
    #   adjusted_values = squashed_values / (2.0 * max_val) + 0.5
    #   return 2.0 * (torch.round(adjusted_values * maximum_bit_value) / maximum_bit_value) - 1.0
    maximum_bit_value = 2 ** bits - 1
    squashed_values = torch.tanh(x)
    max_val = torch.max(torch.abs(squashed_values))
    adjusted_values = squashed_values / (2.0 * max_val) + 0.5
    return 2.0 * (torch.round(adjusted_values * maximum_bit_value) / maximum_bit_value) - 1.0


def _quantization(spec):
    """spec: {"name": ..., "bits": ...}: LayerConfig.get_quantization_function / quantization_from_name."""
    name = spec["name"]
    bits = int(spec.get("bits") or 1)  # `bits or config.dorefa_bits` (1)
    if name in ("sign", "approxsign", "swishsign", "progressive_sign", "progressivesign"):
        return _sign
    if name == "steheaviside":
        return _steheaviside
    if name == "identity":
        return lambda x: x  # identity.py: return x
    if name == "inputdorefa":
        return lambda x: _inputdorefa(x, bits)
    if name == "weightdorefa":
        return lambda x: _weightdorefa(x, bits)
    raise ValueError(f"{name} quantization not found!")  # quantizations/__init__.py quantization_from_name


# ---- bitorch.layers ----------------------------------------------------------------------------

def op_bitorch_layer(case):
    """One bitorch layer's forward.
    kind conv1d/2d/3d, QConvNd_NoAct.forward (qconv1d.py, qconv2d.py, qconv3d.py):
        conv1d(input=self._apply_padding(input), weight=self._weight_quantize(self.weight),
               bias=None, stride=self.stride, padding=0, dilation=self.dilation, groups=self.groups)
      with _apply_padding = pad(x, self._reversed_padding_repeated_twice, mode="constant", value=self._pad_value)
      and self._pad_value = pad_value or config.padding_value (-1.0);
      QConvNd.forward (QConv1dBase): super().forward(self.activation(input_tensor)).
    kind linear, QLinearBase.forward (qlinear.py): linear(self.activation(x), self.weight_quantization(self.weight), self.bias).
    QActivation.forward (qactivation.py): GradientCancellation is the identity forward, then activation_function(x)."""
    x = case["x"]
    w = case["weight"]
    wq = _quantization(case["weight_quantization"])(w)
    act = case.get("input_quantization")
    if act is not None:
        x = _quantization(act)(x)
    if case["kind"] == "linear":
        return {"out": F.linear(x, wq, case.get("bias"))}
    dims = {"conv1d": 1, "conv2d": 2, "conv3d": 3}[case["kind"]]
    pad_value = case.get("pad_value") or -1.0
    # _reversed_padding_repeated_twice: last dim first, (before, after) per dim.
    before, after = case["pad_before"], case["pad_after"]
    reversed_padding = []
    for d in reversed(range(dims)):
        reversed_padding += [before[d], after[d]]
    xp = F.pad(x, reversed_padding, mode="constant", value=pad_value)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    out = conv(xp, wq, None, case["stride"], 0, case["dilation"], case["groups"])
    if case.get("chain_weight") is not None:
        # A second binary layer of the same kind after the first (1x1 conv, sign activation):
        # what forwardBits feeds the next layer.
        out = conv(_sign(out), _sign(case["chain_weight"]), None, 1, 0, 1, 1)
    return {"out": out}


# ---- unit_scaling ------------------------------------------------------------------------------

def _apply_constraint(constraint_name, *scales):
    # constraints.py apply_constraint: None or "" returns the scales; a name is looked up in
    # the module (gmean, hmean, amean, to_output_scale, to_grad_input_scale, ...).
    if constraint_name is None or constraint_name == "":
        return scales
    functions = {
        "gmean": lambda *s: _math.pow(_math.prod(s), (1 / len(s))),
        "hmean": lambda *s: 1 / (sum(1 / v for v in s) / len(s)),
        "amean": lambda *s: sum(s) / len(s),
        "to_output_scale": lambda output_scale, *grad_input_scale: output_scale,
        "to_grad_input_scale": lambda output_scale, grad_input_scale: grad_input_scale,
    }
    constraint = functions.get(constraint_name)
    if constraint is None:
        raise ValueError(
            f"Constraint: {constraint_name} is not a valid constraint (see"
            " unit_scaling.constraints for available options)."
        )
    scale = constraint(*scales)
    return tuple(scale for _ in scales)


def op_unit_scaling_conv1d(case):
    """functional.py conv1d:
        fan_out, fan_in, kernel_size = weight.shape
        output_scale = 1 / (fan_in * kernel_size) ** scale_power[0]
        grad_input_scale = (stride * groups / (fan_out * kernel_size)) ** scale_power[1]
        output_scale, grad_input_scale = apply_constraint(constraint, output_scale, grad_input_scale)
        output = F.conv1d(input, weight, bias, stride, padding, dilation, groups)
        return scale_fwd(output, output_scale)          # scale.py: fwd_scale * X
    With "out_scale": the float result quantized as qF.conv1d's output (quint8, scale, zero point).
    With "dynamic": input and weight replaced by their dynamic quantizations first (quint8 with
    reduce_range, per-tensor symmetric qint8), what qkernels' float path computes on."""
    weight, x, bias = case["weight"], case["x"], case.get("bias")
    stride, padding, dilation, groups = case["stride"], case["padding"], case["dilation"], case["groups"]
    scale_power = case.get("scale_power") or (0.5, 0.5, 0.5)
    fan_out, fan_in, kernel_size = weight.shape
    output_scale = 1 / (fan_in * kernel_size) ** scale_power[0]
    grad_input_scale = (stride * groups / (fan_out * kernel_size)) ** scale_power[1]
    output_scale, grad_input_scale = _apply_constraint(case.get("constraint", "to_output_scale"), output_scale, grad_input_scale)
    if case.get("dynamic"):
        qx = torch.quantize_per_tensor_dynamic(x, torch.quint8, True)
        absmax = weight.abs().max().item()
        wscale = max(float(np.float32(absmax / 127.5)), float(np.finfo(np.float32).eps))
        x = qx.dequantize()
        weight = torch.quantize_per_tensor(weight, wscale, 0, torch.qint8).dequantize()
    output = F.conv1d(x, weight, bias, stride, padding, dilation, groups)
    y = output_scale * output
    result = {"scale": torch.tensor([output_scale], dtype=torch.float64), "out": y}
    if case.get("out_scale") is not None:
        q = torch.quantize_per_tensor(y, case["out_scale"], case["out_zero_point"], torch.quint8)
        result["q"] = q.int_repr()
    return result


HANDLERS = {
    "bitorch_layer": op_bitorch_layer,
    "unit_scaling_conv1d": op_unit_scaling_conv1d,
}
