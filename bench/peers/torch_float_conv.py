# PyTorch peer of bench/binary.js: torch's float conv1d/conv2d (one thread) on +-1 tensors, bitorch's own inference path.
#
#   torch_float_conv.py '<json list of shapes>' <min_time>
# A shape: {"id", "dims", "batch", "cin", "cout", "kernel", "padding", "spatial"}. Prints one JSON
# list of {"id", "seconds"}: CPU seconds per call (process_time, one thread), the median of 3 runs
# of at least min_time each.
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def sign(x):
    s = torch.sign(x)
    return torch.where(s == 0, torch.tensor(1.0), s)


def main():
    shapes = json.loads(sys.argv[1])
    min_time = float(sys.argv[2])
    gen = torch.Generator().manual_seed(7)
    out = []
    for shape in shapes:
        k = shape["kernel"]
        x = sign(torch.randn([shape["batch"], shape["cin"]] + shape["spatial"], generator=gen))
        w = sign(torch.randn([shape["cout"], shape["cin"]] + [k] * shape["dims"], generator=gen))
        conv = F.conv1d if shape["dims"] == 1 else F.conv2d
        pad = [shape["padding"]] * (2 * shape["dims"])
        run = lambda: conv(F.pad(x, pad, value=-1.0), w)  # noqa: E731 - bitorch's forward: pad, then conv
        with torch.no_grad():
            run()
            runs = []
            for _ in range(3):
                calls, start = 0, time.process_time()
                while calls == 0 or time.process_time() - start < min_time:
                    run()
                    calls += 1
                runs.append((time.process_time() - start) / calls)
        out.append({"id": shape["id"], "seconds": statistics.median(runs)})
    print(json.dumps(out))


main()
