# PyTorch peer of bench/norm.js: torch's quantized layer / group / instance norm and softmax (one thread) on the same integers.
#
#   torch_norm.py <min_time> < cases.json      (the cases on stdin: their integers are too long for argv)
# A case: {"id", "op": "layer"|"group"|"instance"|"softmax", "shape", "normalized" (layer), "groups" (group), "dim" (softmax),
# "dtype", "scale", "zero_point", "values" (the input's integers, row-major), "eps", "out_scale",
# "out_zero_point"}; weight 1.5 and bias 0.25 everywhere, as bench/norm.js gives qkernels. Prints one
# JSON list of {"id", "seconds"}: CPU seconds per call (process_time, one thread), the median of 5
# runs of at least min_time each.
import json
import statistics
import sys
import time

import torch

torch.set_num_threads(1)


def make_call(case):
    dtype = torch.quint8 if case["dtype"] == "quint8" else torch.qint8
    ints = torch.tensor(case["values"], dtype=torch.uint8 if dtype == torch.quint8 else torch.int8)
    x = torch._make_per_tensor_quantized_tensor(ints.reshape(case["shape"]), case["scale"], case["zero_point"])
    eps, s, z = case["eps"], case["out_scale"], case["out_zero_point"]
    q = torch.ops.quantized
    if case["op"] == "softmax":
        return lambda: q.softmax(x, case["dim"], s, z)
    if case["op"] == "layer":
        n = 1
        for d in case["normalized"]:
            n *= d
        w, b = torch.full([n], 1.5).reshape(case["normalized"]), torch.full([n], 0.25).reshape(case["normalized"])
        return lambda: q.layer_norm(x, case["normalized"], weight=w, bias=b, eps=eps, output_scale=s, output_zero_point=z)
    c = case["shape"][1]
    w, b = torch.full([c], 1.5), torch.full([c], 0.25)
    if case["op"] == "group":
        return lambda: q.group_norm(x, case["groups"], weight=w, bias=b, eps=eps, output_scale=s, output_zero_point=z)
    return lambda: q.instance_norm(x, weight=w, bias=b, eps=eps, output_scale=s, output_zero_point=z)


def seconds_per_call(call, min_time):
    call()
    calls = 1
    while True:
        start = time.process_time()
        for _ in range(calls):
            call()
        elapsed = time.process_time() - start
        if elapsed >= min_time:
            return elapsed / calls
        calls *= 2


def main():
    cases = json.load(sys.stdin)
    min_time = float(sys.argv[1])
    out = []
    for case in cases:
        call = make_call(case)
        out.append({"id": case["id"], "seconds": statistics.median(seconds_per_call(call, min_time) for _ in range(5))})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
