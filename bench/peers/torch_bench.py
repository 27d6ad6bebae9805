# PyTorch peer of the qkernels benchmark: times torch.ao.nn.quantized Linear/Conv modules, single thread, on shapes given as JSON.
#
# Run with Debian's /usr/bin/python3 (python3-torch 1.13; engines onednn and qnnpack).
#   torch_bench.py --engine onednn shapes.json [--runs 5] [--min-time 0.25] [--clock wall|cpu]
#       prints one JSON list: [{"id", "seconds": [per-call seconds of each run]} or {"id", "error"}]
#   torch_bench.py --engine onednn --serve
#       a worker for bench/peers/torch.js: one JSON request per stdin line, one JSON reply per
#       stdout line ({"cmd": "info"|"setup"|"time"|"drop"|"quit", ...}), so the node driver can
#       interleave this engine's runs with the other engines' on a noisy machine.
# A shape is the dict bench/lib/shapes.js writes: kind "linear" (m, k, n) or "conv" (dims,
# batch, cin, cout, groups, kernel, stride, padding, outputPadding, spatial, transposed), the
# quantization parameters, and weightFile / biasFile: the raw int8 weights (PyTorch layout) and
# float32 bias that every engine of the benchmark uses.
# Inputs are in each engine's fast layout: channels_last (NHWC / NDHWC) for 2-D/3-D conv, and
# for 1-D conv an N-L-C buffer viewed as N-C-L (which becomes channels_last once torch
# unsqueezes it to 2-D), so no engine pays for a layout conversion; a shape with layout
# "contiguous" gets its N C [D] [H] W input as is (the depthwise layouts of issue 12).
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.ao.nn.quantized as nnq


def make_module(shape):
    """The prepacked module and its quantized input for one shape."""
    w_int8 = np.fromfile(shape["weightFile"], dtype=np.int8)
    bias = torch.from_numpy(np.fromfile(shape["biasFile"], dtype=np.float32).copy())
    rng = np.random.default_rng(1234)
    if shape["kind"] == "linear":
        m, k, n = shape["m"], shape["k"], shape["n"]
        w_shape = (n, k)
        module = nnq.Linear(k, n, bias_=True)
        x_shape = (m, k)
    else:
        dims = shape["dims"]
        cin, cout, groups = shape["cin"], shape["cout"], shape["groups"]
        kernel = tuple(shape["kernel"])
        if shape["transposed"]:
            cls = {1: nnq.ConvTranspose1d, 2: nnq.ConvTranspose2d, 3: nnq.ConvTranspose3d}[dims]
            w_shape = (cin, cout // groups) + kernel
            module = cls(cin, cout, kernel, stride=tuple(shape["stride"]), padding=tuple(shape["padding"]),
                         output_padding=tuple(shape["outputPadding"]), groups=groups, bias=True)
        else:
            cls = {1: nnq.Conv1d, 2: nnq.Conv2d, 3: nnq.Conv3d}[dims]
            w_shape = (cout, cin // groups) + kernel
            module = cls(cin, cout, kernel, stride=tuple(shape["stride"]), padding=tuple(shape["padding"]),
                         groups=groups, bias=True)
        x_shape = (shape["batch"], cin) + tuple(shape["spatial"])
    if w_int8.size != int(np.prod(w_shape)):
        raise ValueError(f"{shape['weightFile']} holds {w_int8.size} weights, expected {w_shape}")
    w = torch._make_per_tensor_quantized_tensor(torch.from_numpy(w_int8.reshape(w_shape).copy()),
                                                shape["wScale"], 0)
    module.set_weight_bias(w, bias)
    module.scale = shape["yScale"]
    module.zero_point = shape["yZeroPoint"]
    x_float = torch.from_numpy(rng.standard_normal(x_shape, dtype=np.float32))
    contiguous = shape.get("layout") == "contiguous"  # the shape asks every engine for N C [D] [H] W
    if shape["kind"] == "conv" and len(x_shape) == 3 and not contiguous:
        # N-L-C storage viewed as N-C-L.
        x = torch.quantize_per_tensor(x_float.permute(0, 2, 1).contiguous(), shape["xScale"],
                                      shape["xZeroPoint"], torch.quint8).permute(0, 2, 1)
    else:
        x = torch.quantize_per_tensor(x_float, shape["xScale"], shape["xZeroPoint"], torch.quint8)
        if contiguous:
            pass
        elif len(x_shape) == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        elif len(x_shape) == 5:
            x = x.contiguous(memory_format=torch.channels_last_3d)
    return module, x


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


class Runner:
    def __init__(self):
        self.module = None
        self.x = None

    def setup(self, shape):
        self.module, self.x = make_module(shape)
        with torch.no_grad():
            self.module(self.x)  # first call: lazy packing, allocations

    def time(self, min_time, clock="wall"):
        """Seconds per call over one run: warm up, then repeat until min_time has passed on the clock
        ("wall": elapsed time; "cpu": this process's CPU time, as bench/lib/common.js's clocks)."""
        now = CLOCKS[clock]
        module, x = self.module, self.x
        with torch.no_grad():
            module(x)
            calls = 0
            start = now()
            elapsed = 0.0
            while calls == 0 or elapsed < min_time:
                module(x)
                calls += 1
                elapsed = now() - start
        return elapsed / calls


def info(engine):
    onednn = ""
    for line in torch.__config__.show().splitlines():
        if "MKL-DNN" in line or "oneDNN" in line:
            onednn = line.strip(" -")
    return {"torch": torch.__version__, "engine": engine, "onednn": onednn,
            "dnnlMaxCpuIsa": os.environ.get("DNNL_MAX_CPU_ISA", ""), "threads": torch.get_num_threads()}


def serve(engine):
    runner = Runner()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        cmd = request.get("cmd")
        try:
            if cmd == "info":
                reply = {"ok": True, **info(engine)}
            elif cmd == "setup":
                runner.setup(request["shape"])
                reply = {"ok": True}
            elif cmd == "time":
                reply = {"ok": True, "seconds": runner.time(float(request["minTime"]), request.get("clock", "wall"))}
            elif cmd == "drop":
                runner = Runner()
                reply = {"ok": True}
            elif cmd == "quit":
                return
            else:
                reply = {"ok": False, "error": f"unknown command {cmd!r}"}
        except Exception as e:  # reported per shape; the driver prints it in the table
            reply = {"ok": False, "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def batch(engine, shapes_file, runs, min_time, clock):
    with open(shapes_file) as f:
        shapes = json.load(f)
    out = []
    for shape in shapes:
        runner = Runner()
        try:
            runner.setup(shape)
            seconds = [runner.time(min_time, clock) for _ in range(runs)]
            out.append({"id": shape["id"], "seconds": seconds, "median": statistics.median(seconds)})
        except Exception as e:
            out.append({"id": shape["id"], "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"})
    print(json.dumps({**info(engine), "results": out}))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["onednn", "qnnpack"], required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.25)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument("shapes", nargs="?")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.quantized.engine = args.engine
    if args.serve:
        serve(args.engine)
    elif args.shapes:
        batch(args.engine, args.shapes, args.runs, args.min_time, args.clock)
    else:
        parser.error("give a shapes JSON file or --serve")


if __name__ == "__main__":
    main()
