#!/usr/bin/python3
"""Times PyTorch float and its FX post-training int8 (onednn engine, default qconfig mapping) on
one model, as the peer of bench/run_int8_benchmark.sh:

  pytorch_bench.py MODEL THREADS RUNS BATCH [BATCH ...]

MODEL is a Fashion-MNIST fixture (.onnx, rebuilt as an FX graph by pytorch_fx_ptq.to_fx) or a
torchvision name (resnet18, mobilenet_v2; untrained weights: speed only). Calibration: 8 batches
of 8 seeded standard-normal inputs. Prints one JSON line per batch size with the median, min and
max milliseconds of RUNS timed runs after two warm-up runs, for "float" and "int8".
"""
import json
import os
import sys
import time

import torch
import torchvision
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_fx_ptq import to_fx  # noqa: E402


def build(model):
    if model.endswith(".onnx"):
        return to_fx(model), (1, 28, 28)
    make = {"resnet18": torchvision.models.resnet18, "mobilenet_v2": torchvision.models.mobilenet_v2}
    return make[model]().eval(), (3, 224, 224)


def timed(module, x, runs):
    times = []
    with torch.no_grad():
        for r in range(runs + 2):
            start = time.perf_counter()
            module(x)
            if r >= 2:
                times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {"median_ms": times[len(times) // 2], "min_ms": times[0], "max_ms": times[-1], "runs": runs}


def main():
    model, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    batches = [int(b) for b in sys.argv[4:]]
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    torch.backends.quantized.engine = "onednn"
    float_model, sample = build(model)
    for batch in batches:
        # A quantized model per batch size: PyTorch 1.13's onednn engine fails ("could not create
        # a primitive descriptor for a reorder primitive") when one int8 MobileNetV2 sees a second
        # batch size on an AVX-512 VNNI CPU.
        prepared = prepare_fx(build(model)[0], get_default_qconfig_mapping("onednn"),
                              (torch.randn(1, *sample),))
        with torch.no_grad():
            torch.manual_seed(0)
            for _ in range(8):
                prepared(torch.randn(8, *sample))
        int8_model = convert_fx(prepared)
        x = torch.rand(batch, *sample)
        print(json.dumps({"batch": batch, "float": timed(float_model, x, runs),
                          "int8": timed(int8_model, x, runs)}), flush=True)


if __name__ == "__main__":
    main()
