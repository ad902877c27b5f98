"""Produce nnlib/data/digits.h5 once; the runtime never depends on where it came from.

Source: the UCI "Optical Recognition of Handwritten Digits" test set (1797 8x8 images,
values 0..16, 10 classes; CC BY 4.0), in the copy that scikit-learn ships as
``sklearn/datasets/data/digits.csv.gz``. Run, with scikit-learn installed::

    python scripts/make_digits_h5.py

The file stores ``images`` (uint8, shape (1797, 64)) and ``labels`` (uint8, (1797,)),
gzip-compressed, with provenance in its attributes.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import h5py
import numpy as np
import sklearn.datasets

SRC = Path(sklearn.datasets.__file__).parent / "data" / "digits.csv.gz"
OUT = Path(__file__).resolve().parents[1] / "nnlib" / "data" / "digits.h5"


def main() -> None:
    raw = gzip.decompress(SRC.read_bytes())
    table = np.loadtxt(raw.decode().splitlines(), delimiter=",")
    images = table[:, :64].astype(np.uint8)
    labels = table[:, 64].astype(np.uint8)
    assert images.shape == (1797, 64) and set(np.unique(labels)) == set(range(10))
    assert images.max() == 16
    with h5py.File(OUT, "w") as f:
        f.create_dataset("images", data=images, compression="gzip", compression_opts=9)
        f.create_dataset("labels", data=labels, compression="gzip", compression_opts=9)
        f.attrs["description"] = "8x8 handwritten digits, pixel values 0..16, 10 classes"
        f.attrs["source"] = "UCI Optical Recognition of Handwritten Digits (test set), CC BY 4.0"
        f.attrs["sha256_of_source_csv"] = hashlib.sha256(raw).hexdigest()
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
