"""The bundled MNIST slice as basin sees it, for the Python reference scripts: the raw IDX files
of data/mnist-slice and basin's normalization (Normalization::fit: one mean and one std over all
pixels of the training images used, in f32)."""
import gzip
import struct
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def idx(path):
    """An IDX file (images as rows of pixels, or labels)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows * cols)
    return np.frombuffer(data, np.uint8, offset=8)


def first_training_images(n):
    """The first n training images, normalized with their own mean and std (f32 values held in
    float64), and their labels: the loss of a run trained with `data.train_subset = n`."""
    raw = idx(ROOT / "data/mnist-slice/train-images-idx3-ubyte.gz")[:n].astype(np.float64) / 255.0
    y = idx(ROOT / "data/mnist-slice/train-labels-idx1-ubyte.gz")[:n].astype(np.int64)
    mean = np.float32(raw.mean())
    std = np.float32(np.sqrt(max((raw * raw).mean() - raw.mean() ** 2, 1e-12)))
    return ((raw.astype(np.float32) - mean) / std).astype(np.float64), y
