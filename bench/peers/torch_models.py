# PyTorch peer of bench/trace.js: times torchvision's quantized zoo models (eager and TorchScript) at batch 1.
#
# Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-torchvision).
#   torch_models.py --engine onednn --threads 1 --serve
#       a worker for bench/peers/torch.js: one JSON request per stdin line, one JSON reply per line:
#       {"cmd": "load", "arch", "stem"}         -> builds the eager model and loads stem.pth, loads stem.pt
#       {"cmd": "time", "arch", "side", "minTime"} -> {"eager": s/call, "script": s/call}
#       {"cmd": "quit"}
# The eager model is rebuilt the way scripts/zoo/make_zoo.py converts it (torchvision builder,
# fuse_model, prepare, convert) and then given the fixture's state dict, so it is the same network
# with the same weights as the one qkernels loads; the TorchScript archive is make_zoo's
# torch.jit.script of it. Inputs are float NCHW images (the models quantize them themselves, as
# qkernels' do), one fixed random image per side.
import argparse
import json
import os
import sys
import time
import warnings

import torch

warnings.filterwarnings('ignore')
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts', 'zoo'))
import make_zoo  # noqa: E402  (the zoo's architectures and conversion recipe)


def build(arch, stem, engine):
    builder, kwargs, _ = make_zoo.ARCHES[arch]
    model = builder(weights=None, quantize=False, **kwargs)
    model.eval()
    side = 64
    calibration = torch.zeros(1, 3, side, side)
    # make_zoo's recipe; the observers' values do not matter, the state dict replaces them.
    model = make_zoo.quantize(model, calibration, engine)
    model.load_state_dict(torch.load(stem + '.pth'))
    for name, qp in json.load(open(stem + '.json')).get('calibrated', {}).items():
        module = model.get_submodule(name)
        if isinstance(module, torch.ao.nn.quantized.Sigmoid):
            module.output_scale, module.output_zero_point = qp['scale'], qp['zeroPoint']
        else:
            module.scale, module.zero_point = qp['scale'], qp['zeroPoint']
    model.eval()
    return model, torch.jit.load(stem + '.pt').eval()


def per_call(fn, min_time):
    """Seconds per call (wall clock): one warm-up call, then calls until min_time has passed."""
    fn()
    calls = 0
    start = time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


def serve(engine):
    torch.backends.quantized.engine = engine
    models = {}
    for line in sys.stdin:
        request = json.loads(line)
        cmd = request.get('cmd')
        try:
            if cmd == 'load':
                models[request['arch']] = build(request['arch'], request['stem'], engine)
                reply = {'ok': True}
            elif cmd == 'time':
                eager, scripted = models[request['arch']]
                side = request['side']
                x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(side)) * 4 - 2
                with torch.no_grad():
                    reply = {'ok': True,
                             'eager': per_call(lambda: eager(x), request['minTime']),
                             'script': per_call(lambda: scripted(x), request['minTime'])}
            elif cmd == 'info':
                reply = {'ok': True, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'engine': engine}
            elif cmd == 'quit':
                return
            else:
                reply = {'ok': False, 'error': f'unknown command {cmd!r}'}
        except Exception as e:  # reported to the driver, which prints it in the table
            reply = {'ok': False, 'error': f'{type(e).__name__}: {e}'}
        print(json.dumps(reply), flush=True)


def main():
    parser = argparse.ArgumentParser(description='PyTorch whole-model peer of bench/trace.js')
    parser.add_argument('--engine', default='onednn', choices=['onednn', 'qnnpack'])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--serve', action='store_true', required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    serve(args.engine)


if __name__ == '__main__':
    main()
