#!/usr/bin/python3
# The PyTorch oracle: reads one JSON batch of cases on stdin, answers each with torch's result on stdout.
#
# Run with Debian's interpreter, which has python3-torch: `/usr/bin/python3 test/oracle/oracle.py`.
#
# Protocol (see test/oracle/index.ts for the other side):
#   stdin:  {"engine": "onednn" | "qnnpack" | null, "cases": [case, ...]}
#           each case is {"op": <name in HANDLERS>, ...op arguments}
#           HANDLERS merges the HANDLERS dict of every ops_<family>.py next to this file.
#   stdout: [result, ...], one per case in the same order; a result is a dict of outputs,
#           or {"error": message, "errorType": exception class name} when torch raised.
#           A failing case never stops the batch; only a malformed batch exits non-zero.
# Values that must stay bit-exact never travel as JSON numbers:
#   arrays  {"$array": "float32" | "float64" | "uint8" | "int8" | "int32" | "int64",
#            "shape": [..], "b64": base64 of the little-endian raw bytes}
#   floats  that JSON cannot carry (NaN, +-Infinity, -0) travel as {"$f64": "NaN" | "Infinity" | "-Infinity" | "-0"}
#   other float scalars travel as JSON numbers, which both sides print and parse round-trip exactly.
# Exit codes: 0 ok, 2 malformed batch, 3 torch (or numpy) cannot be imported.

import glob
import importlib
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_wire import encode, decode, torch  # noqa: E402 - exits 3 when torch is missing


def load_handlers():
    """The op table: every ops_<family>.py's HANDLERS, an op name defined twice is an error."""
    handlers = {}
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, "ops_*.py"))):
        module = importlib.import_module(os.path.splitext(os.path.basename(path))[0])
        for name, handler in module.HANDLERS.items():
            if name in handlers:
                raise RuntimeError("oracle op %r is defined twice (again in %s)" % (name, path))
            handlers[name] = handler
    return handlers


HANDLERS = load_handlers()


def run_case(case):
    try:
        if not isinstance(case, dict) or "op" not in case:
            raise ValueError("a case must be an object with an 'op' field")
        handler = HANDLERS.get(case["op"])
        if handler is None:
            raise ValueError("unknown op %r (known: %s)" % (case["op"], ", ".join(sorted(HANDLERS))))
        return encode(handler(decode(case)))
    except Exception as error:  # noqa: BLE001 - every torch failure is an answer, not a crash
        message = str(error).strip() or type(error).__name__
        result = {"error": message, "errorType": type(error).__name__}
        if os.environ.get("QKERNELS_ORACLE_TRACE"):
            result["trace"] = traceback.format_exc()
        return result


def main():
    torch.set_num_threads(1)
    try:
        batch = json.load(sys.stdin)
    except ValueError as error:
        sys.stderr.write("qkernels oracle: stdin is not one JSON document: %s\n" % (error,))
        return 2
    if not isinstance(batch, dict) or not isinstance(batch.get("cases"), list):
        sys.stderr.write('qkernels oracle: expected {"cases": [...]} on stdin\n')
        return 2
    engine = batch.get("engine")
    if engine:
        if engine not in torch.backends.quantized.supported_engines:
            sys.stderr.write("qkernels oracle: engine %r not in %s\n" % (engine, torch.backends.quantized.supported_engines))
            return 2
        torch.backends.quantized.engine = engine
    results = [run_case(case) for case in batch["cases"]]
    json.dump(results, sys.stdout, allow_nan=False, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
