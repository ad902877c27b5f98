"""The inverted dropout layer."""

from __future__ import annotations

import numpy as np

from nnlib import functional as F
from nnlib._checks import check_drop_probability
from nnlib.module import Layer


class Dropout(Layer):
    """Inverted dropout: in training, zero each activation with probability ``p``.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    rng : numpy.random.Generator
        Required; draws the masks.

    Notes
    -----
    In inference mode (after :meth:`eval`) the layer is the identity.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.p = check_drop_probability(p, "Dropout")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("Dropout: pass rng=np.random.default_rng(seed); nnlib never uses "
                            "numpy's global random state.")
        self.rng = rng

    @property
    def name(self) -> str:
        """Short name used in error messages."""
        return f"Dropout(p={self.p})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Drop and rescale in training; identity in inference. Same shape as ``x``."""
        out, mask = F.dropout_forward(self.check_input(x), self.p, self.rng, self.training)
        self.save_for_backward(("mask", mask))  # the mask is None in inference mode
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Return dL/dx = dout * mask / (1 - p) (None with ``input_grad=False``)."""
        mask = self.saved_for_backward()[1]
        return F.dropout_backward(dout, mask) if input_grad else None
