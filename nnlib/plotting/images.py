"""A grid of small grayscale images."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def plot_images(images: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 8,
                shape: tuple[int, int] | None = None,
                panel_size: float = 1.1) -> Figure:
    """Show a grid of small grayscale images (dark strokes on white).

    Parameters
    ----------
    images : ndarray, shape (K, H, W) or (K, H*W)
        Flat rows are reshaped to ``shape`` (default: square, e.g. 64 -> 8x8).
    titles : sequence of str, optional
        One short title per image.
    ncols : int
        Images per row.
    shape : (int, int), optional
        Image shape for flat rows.
    panel_size : float
        Inches per image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 2:
        if shape is None:
            side = int(round(np.sqrt(images.shape[1])))
            if side * side != images.shape[1]:
                raise ValueError(f"plot_images: cannot make square images of {images.shape[1]} "
                                 "pixels; pass shape=(H, W).")
            shape = (side, side)
        images = images.reshape(images.shape[0], *shape)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError("plot_images: images must have shape (K, H, W) or (K, H*W) with K > 0, "
                         f"got {images.shape}.")
    if titles is not None and len(titles) != images.shape[0]:
        raise ValueError(f"plot_images: got {len(titles)} titles for {images.shape[0]} images.")
    k = images.shape[0]
    ncols = max(1, min(ncols, k))
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows * 1.15),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < k:
            ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig
