#!/usr/bin/python3
"""Exports torchvision MobileNetV2 at 224x224 whose batch-norm layers spread their channels over
two orders of magnitude, as trained MobileNets do (whitepaper section 2.1: per-layer weight
quantization collapses after batch-norm folding): each BN's gamma is log-uniform in [0.1, 10],
its running variance log-uniform in [0.1, 10], its running mean and beta small. Seeded.

  export_mobilenet_v2_spread.py OUT.onnx
"""
import sys

import torch
import torchvision

torch.manual_seed(20261125)
model = torchvision.models.mobilenet_v2()
with torch.no_grad():
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.weight.copy_(10 ** (torch.rand(n) * 2 - 1))
            module.running_var.copy_(10 ** (torch.rand(n) * 2 - 1))
            module.running_mean.copy_(torch.randn(n) * 0.1)
            module.bias.copy_(torch.randn(n) * 0.1)
model.eval()
torch.onnx.export(model, torch.randn(1, 3, 224, 224), sys.argv[1], opset_version=13,
                  input_names=["image"], output_names=["logits"],
                  dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}})
