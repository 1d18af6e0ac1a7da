#!/usr/bin/python3
"""Multiply-accumulates of one sample through a float ONNX model's Conv, Gemm and MatMul nodes
(ONNX shape inference with the batch dimension set to 1): model_macs.py MODEL.onnx"""
import sys

import numpy as np
import onnx
from onnx import shape_inference

model = onnx.load(sys.argv[1])
model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
model = shape_inference.infer_shapes(model)
shapes = {}
for value in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input):
    shapes[value.name] = [d.dim_value for d in value.type.tensor_type.shape.dim]
for t in model.graph.initializer:
    shapes[t.name] = list(t.dims)
macs = 0
for node in model.graph.node:
    if node.op_type == "Conv":
        w = shapes[node.input[1]]  # [M, C/group, k...]
        y = shapes[node.output[0]]  # [1, M, spatial...]
        macs += int(np.prod(y)) * int(np.prod(w[1:]))
    elif node.op_type in ("Gemm", "MatMul"):
        a, y = shapes[node.input[0]], shapes[node.output[0]]
        trans_a = any(x.name == "transA" and x.i for x in node.attribute)
        k = a[-2] if trans_a else a[-1]
        macs += int(np.prod(y)) * k
print(macs)
