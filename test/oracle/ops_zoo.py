# Oracle handlers of the zoo: torch's MinMaxObserver qparams, torchvision's image transforms on a uint8 image.

from oracle_wire import *  # noqa: F401,F403 - torch, np, the wire helpers


def op_min_max_observer(case):
    """MinMaxObserver(dtype, qscheme, reduce_range, quant_min, quant_max) fed each of case['batches'] (float32 arrays)."""
    kwargs = {
        "dtype": {"quint8": torch.quint8, "qint8": torch.qint8}[case.get("dtype", "quint8")],
        "qscheme": {"per_tensor_affine": torch.per_tensor_affine, "per_tensor_symmetric": torch.per_tensor_symmetric}[
            case.get("qscheme", "per_tensor_affine")
        ],
        "reduce_range": bool(case.get("reduce_range", False)),
    }
    if case.get("quant_min") is not None:
        kwargs["quant_min"] = int(case["quant_min"])
        kwargs["quant_max"] = int(case["quant_max"])
    observer = torch.ao.quantization.MinMaxObserver(**kwargs)
    for batch in case["batches"]:
        observer(batch)
    scale, zero_point = observer.calculate_qparams()
    return {
        "scale": float(scale),
        "zero_point": int(zero_point),
        "min_val": float(observer.min_val),
        "max_val": float(observer.max_val),
    }


def op_classification_transforms(case):
    """torchvision.transforms.functional on a uint8 [3, H, W] tensor made from HWC pixels:
    resize(size, bilinear, antialias=False), center_crop(crop), convert_image_dtype, normalize."""
    import torchvision.transforms.functional as TF

    hwc = case["pixels"]  # uint8 [H, W, 3]
    img = hwc.permute(2, 0, 1).contiguous()
    resize = case["resize"]
    resized = TF.resize(img, resize if isinstance(resize, list) else [resize],
                        interpolation=TF.InterpolationMode.BILINEAR, antialias=False)
    cropped = TF.center_crop(resized, case["crop"])
    x = TF.convert_image_dtype(cropped, torch.float)
    x = TF.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    return {
        "resized": resized.permute(1, 2, 0).contiguous(),
        "cropped": cropped.permute(1, 2, 0).contiguous(),
        "normalized": x.unsqueeze(0).contiguous(),
    }


def op_calibrate_hardswish(case):
    """quantize(x) -> nnq.Hardswish whose qparams a MinMaxObserver picks from hardswish(dequantize(input))."""
    q = torch.quantize_per_tensor(case["x"], float(case["scale"]), int(case["zero_point"]), torch.quint8)
    observer = torch.ao.quantization.MinMaxObserver()
    observer(torch.nn.functional.hardswish(q.dequantize()))
    scale, zero_point = observer.calculate_qparams()
    module = torch.ao.nn.quantized.Hardswish(float(scale), int(zero_point))
    return {"scale": float(scale), "zero_point": int(zero_point), "int_repr": module(q).int_repr()}


def op_zoo_logits(case):
    """A zoo model's TorchScript archive loaded under the batch's engine (its weights prepacked
    there) run on the float32 inputs file: the logits torch gives under that engine."""
    model = torch.jit.load(case["archive"])
    shape = [int(s) for s in case["input_shape"]]
    x = torch.from_numpy(np.fromfile(case["inputs"], dtype="<f4").reshape(shape))
    with torch.no_grad():
        y = model(x)
    if isinstance(y, tuple):
        y = y[0]
    return {"logits": y.contiguous(), "engine": torch.backends.quantized.engine}


HANDLERS = {
    "zoo_logits": op_zoo_logits,
    "calibrate_hardswish": op_calibrate_hardswish,
    "min_max_observer": op_min_max_observer,
    "classification_transforms": op_classification_transforms,
}
