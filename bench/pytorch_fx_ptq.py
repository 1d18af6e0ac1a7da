#!/usr/bin/python3
"""PyTorch's own post-training quantization of the same trained models, as the peer row of the
quantization results table (bench/run_quantization_results.sh).

The ONNX fixture is rebuilt as a torch.fx graph (Conv, Relu, Clip, Add, Sub, Div,
GlobalAveragePool, Flatten, Gemm: what the fixtures hold), then quantized with FX graph mode,
the onednn engine and its default qconfig mapping (default observers), calibrated on the same
100 batches of 32 training images Octet uses, and evaluated on the 10,000 test images.

  pytorch_fx_ptq.py MODEL.onnx [MODEL.onnx ...]   (prints Markdown table rows)
"""
import gzip
import operator
import os
import sys

import numpy as np
import onnx
import torch
import torch.fx
from onnx import numpy_helper
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

DATASET = "/usr/share/datasets/fashion-mnist"


def load(prefix, count):
    with gzip.open(os.path.join(DATASET, f"{prefix}-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:count]
    with gzip.open(os.path.join(DATASET, f"{prefix}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:count]
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def to_fx(path):
    """The ONNX model as a torch.fx GraphModule with real nn modules (so FX can quantize them)."""
    model = onnx.load(path)
    consts = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    root = torch.nn.Module()
    graph = torch.fx.Graph()
    values = {}
    for inp in model.graph.input:
        if inp.name not in consts:
            values[inp.name] = graph.placeholder("image")

    def value(name):
        if name in values:
            return values[name]
        attr = f"const_{len(root._buffers)}"
        root.register_buffer(attr, consts[name])
        values[name] = graph.get_attr(attr)
        return values[name]

    for i, node in enumerate(model.graph.node):
        a = attributes(node)
        out = node.output[0]
        name = f"m{i}"
        if node.op_type == "Constant":
            consts[out] = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
            continue
        if node.op_type == "Conv":
            w = consts[node.input[1]]
            pads = a.get("pads", [0, 0, 0, 0])
            assert pads[0] == pads[2] and pads[1] == pads[3], "asymmetric pads"
            conv = torch.nn.Conv2d(w.shape[1] * a.get("group", 1), w.shape[0], tuple(w.shape[2:]),
                                   stride=tuple(a.get("strides", [1, 1])), padding=(pads[0], pads[1]),
                                   dilation=tuple(a.get("dilations", [1, 1])), groups=a.get("group", 1),
                                   bias=len(node.input) > 2)
            conv.weight.data = w
            if len(node.input) > 2:
                conv.bias.data = consts[node.input[2]]
            root.add_module(name, conv)
            values[out] = graph.call_module(name, (values[node.input[0]],))
        elif node.op_type == "Gemm":
            w = consts[node.input[1]]
            if not a.get("transB", 0):
                w = w.t()
            linear = torch.nn.Linear(w.shape[1], w.shape[0])
            linear.weight.data = w.contiguous()
            linear.bias.data = consts[node.input[2]]
            root.add_module(name, linear)
            values[out] = graph.call_module(name, (values[node.input[0]],))
        elif node.op_type in ("Relu", "Clip"):
            if node.op_type == "Relu":
                module = torch.nn.ReLU()
            else:
                lo, hi = float(consts[node.input[1]]), float(consts[node.input[2]])
                module = torch.nn.ReLU6() if (lo, hi) == (0.0, 6.0) else torch.nn.Hardtanh(lo, hi)
            root.add_module(name, module)
            values[out] = graph.call_module(name, (values[node.input[0]],))
        elif node.op_type == "GlobalAveragePool":
            root.add_module(name, torch.nn.AdaptiveAvgPool2d(1))
            values[out] = graph.call_module(name, (values[node.input[0]],))
        elif node.op_type == "Flatten":
            values[out] = graph.call_function(torch.flatten, (values[node.input[0]], a.get("axis", 1)))
        elif node.op_type in ("Add", "Sub", "Div", "Mul"):
            fn = {"Add": operator.add, "Sub": operator.sub, "Div": operator.truediv, "Mul": operator.mul}
            values[out] = graph.call_function(fn[node.op_type], (value(node.input[0]), value(node.input[1])))
        else:
            raise SystemExit(f"{path}: {node.op_type} is not mapped to PyTorch")
    graph.output(values[model.graph.output[0].name])
    return torch.fx.GraphModule(root, graph).eval()


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    torch.backends.quantized.engine = "onednn"
    calibration, _ = load("train", 3200)
    test_x, test_y = load("t10k", 10000)
    for path in sys.argv[1:]:
        float_model = to_fx(path)
        prepared = prepare_fx(to_fx(path), get_default_qconfig_mapping("onednn"), (calibration[:1],))
        with torch.no_grad():
            for start in range(0, 3200, 32):
                prepared(calibration[start:start + 32])
            quantized = convert_fx(prepared)
            ref = torch.cat([float_model(test_x[s:s + 500]) for s in range(0, 10000, 500)])
            out = torch.cat([quantized(test_x[s:s + 500]) for s in range(0, 10000, 500)])
        f_top1 = (ref.argmax(1) == test_y).double().mean().item()
        q_top1 = (out.argmax(1) == test_y).double().mean().item()
        agree = (ref.argmax(1) == out.argmax(1)).double().mean().item()
        sqnr = 10 * np.log10((ref.double() ** 2).sum().item() / ((ref.double() - out.double()) ** 2).sum().item())
        print(f"| {os.path.basename(path)} | PyTorch {torch.__version__.split('+')[0]} FX PTQ "
              f"(onednn, default qconfig) | {100 * f_top1:.2f} | {100 * q_top1:.2f} | "
              f"{100 * (q_top1 - f_top1):+.2f} | {100 * agree:.2f} | {sqnr:.1f} |", flush=True)


if __name__ == "__main__":
    main()
