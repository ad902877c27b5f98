"""Exercise: one Adam update (notebook ``06_optimizers``).

Adam (Kingma & Ba, 2015) keeps two running averages per parameter, of the
gradient (``m``) and of its square (``v``), corrects them for starting at 0,
and scales each coordinate's step by its recent gradient magnitude.

Rules: numpy only; return new arrays and leave the arguments unmodified; keep
the dtype of ``w``.
"""

from __future__ import annotations

import numpy as np


def adam_update(
    w: np.ndarray,
    dw: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Adam step for one parameter array.

    With ``t`` the number of this step (1 for the first update)::

        m_new = beta1 * m + (1 - beta1) * dw
        v_new = beta2 * v + (1 - beta2) * dw**2
        m_hat = m_new / (1 - beta1**t)            # bias correction
        v_hat = v_new / (1 - beta2**t)
        w_new = w - lr * m_hat / (sqrt(v_hat) + eps)

    Taught in notebook ``06_optimizers``, just before the heading "Exercise: Adam".

    Parameters
    ----------
    w : ndarray, any shape
        The parameter.
    dw : ndarray, same shape
        Its gradient.
    m, v : ndarray, same shape
        First and second moment estimates (zeros before the first step).
    t : int
        Step number, starting at 1.
    lr, beta1, beta2, eps : float

    Returns
    -------
    w_new, m_new, v_new : ndarray, same shape as ``w``
    """
    # BEGIN SOLUTION
    m_new = beta1 * m + (1.0 - beta1) * dw
    v_new = beta2 * v + (1.0 - beta2) * (dw * dw)
    m_hat = m_new / (1.0 - beta1**t)
    v_hat = v_new / (1.0 - beta2**t)
    w_new = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w_new, m_new, v_new
    # END SOLUTION
