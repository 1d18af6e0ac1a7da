#!/usr/bin/python3
"""Exports torchvision ResNet-18 and MobileNetV2 (untrained weights: speed only) to ONNX,
opset 13, input "image" [N, 3, 224, 224]: export_torchvision.py OUT_DIR"""
import os
import sys

import torch
import torchvision

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
for name, make in [("resnet18", torchvision.models.resnet18), ("mobilenet_v2", torchvision.models.mobilenet_v2)]:
    path = os.path.join(out, f"{name}.onnx")
    if os.path.exists(path):
        continue
    model = make().eval()
    torch.onnx.export(model, torch.rand(1, 3, 224, 224), path, opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}})
    print(f"exported {path}")
