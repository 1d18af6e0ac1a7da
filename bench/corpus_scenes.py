"""Rendered scenes for ISNet (imgly's salient-object segmentation): Fashion-MNIST garments from
Debian's dataset-fashion-mnist, enlarged to 640x640, coloured and placed at random on a smooth
two-colour background of 1024x1024, normalized as imgly does: (pixel - 128) / 256.
    /usr/bin/python3 bench/corpus_scenes.py COUNT FIRST OUT.npz   (array "input", [COUNT,3,1024,1024])
"""
import gzip
import sys

import numpy as np
import torch

count, first, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz') as f:
    garments = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
rng = np.random.default_rng(first)
yy, xx = np.mgrid[0:1024, 0:1024] / 1023.0
scenes = []
for i in range(count):
    g = torch.from_numpy(garments[first + i].astype(np.float32) / 255.0)[None, None]
    g = torch.nn.functional.interpolate(g, size=(640, 640), mode='bilinear',
                                        align_corners=False)[0, 0].numpy()
    top, left = rng.integers(0, 384, 2)
    mask = np.zeros((1024, 1024), np.float32)
    mask[top:top + 640, left:left + 640] = g
    near, far, colour = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3), rng.uniform(0, 255, 3)
    t = (0.6 * yy + 0.4 * xx)[None]
    background = near[:, None, None] * (1 - t) + far[:, None, None] * t
    garment = colour[:, None, None] * (0.5 + 0.5 * mask[None])
    pixels = background * (1 - mask[None]) + garment * mask[None]
    scenes.append(((pixels - 128.0) / 256.0).astype(np.float32))
np.savez(out, input=np.stack(scenes))
