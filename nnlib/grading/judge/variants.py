"""The catalogued mistakes' outputs, computed from the reference on a test's inputs.

For each function whose output is deterministic, a :class:`Spec` says which part of the
output is compared, how to compute the right output, and how to compute each catalogued
mistake's output (an id may have several forms: ``1 - x**2`` and ``1 - tanh(x)`` are the
same misconception). Every form is plain numpy on the recorded arguments; a backward pass
finds its forward's arguments among the calls made before it in the same test. A form
returns None when the call is not one it can judge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from nnlib.grading.judge.calls import Call

__all__ = ["Spec", "Variant", "VARIANTS"]

Variant = Callable[[Call], Any]
"""Computes the output of one form of a mistake from a recorded call; None = cannot tell."""


class Spec(NamedTuple):
    """How one function's output is judged.

    The part compared, the right output, and the outputs of its mistakes (each id may
    have several forms).
    """

    pick: Callable[[Call], Any]
    right: Variant
    variants: dict[str, tuple[Variant, ...]]


def _first(call: Call) -> Any:
    """The ``out`` of an ``(out, cache)`` pair."""
    r = call.result
    return r[0] if isinstance(r, (tuple, list)) and len(r) == 2 else None


def _whole(call: Call) -> Any:
    return call.result


def _adam_step(call: Call) -> Any:
    """Adam's output with the step ``w_new - w`` in place of ``w_new``.

    The step is what the mistakes change, and it is small beside ``w`` itself.
    """
    r, w = call.result, call.arg(0, "w")
    if not (isinstance(r, (tuple, list)) and len(r) == 3 and isinstance(r[0], np.ndarray)
            and isinstance(w, np.ndarray) and r[0].shape == w.shape):
        return None
    return r[0].astype(np.float64) - w.astype(np.float64), r[1], r[2]


def _f64(*arrays: Any) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _x_of(call: Call, forward: str) -> np.ndarray | None:
    fwd = call.forward(forward)
    return None if fwd is None else np.asarray(fwd.arg(0, "x"), dtype=np.float64)


def _act_backward(forward: str, deriv: Callable[[np.ndarray], np.ndarray]) -> Variant:
    def variant(call: Call) -> Any:
        x = _x_of(call, forward)
        if x is None:
            return None
        return np.asarray(call.arg(0, "dout"), dtype=np.float64) * deriv(x)
    return variant


def _sig(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _numgrad(one_sided: bool) -> Variant:
    def variant(call: Call) -> Any:
        f, x, h = call.arg(0, "f"), call.arg(1, "x"), call.arg(2, "h", 1e-6)
        if not callable(f) or not isinstance(x, np.ndarray) or x.size > 4096:
            return None
        work = np.array(x, dtype=np.float64, copy=True)
        grad = np.zeros(work.shape)
        f0 = float(f(work.copy())) if one_sided else 0.0
        for i in np.ndindex(*work.shape):
            old = work[i]
            work[i] = old + h
            plus = float(f(work.copy()))
            if one_sided:
                work[i] = old
                grad[i] = (plus - f0) / h
            else:
                work[i] = old - h
                minus = float(f(work.copy()))
                work[i] = old
                grad[i] = (plus - minus) / (2 * h)
        return grad
    return variant


def _dense_backward(form: str) -> Variant:
    def variant(call: Call) -> Any:
        fwd = call.forward("dense_forward")
        if fwd is None:
            return None
        x, W = _f64(fwd.arg(0, "x"), fwd.arg(1, "W"))
        dz = np.asarray(call.arg(0, "dz"), dtype=np.float64)
        dW = x.T @ dz if form == "dW_T" else dz.T @ x
        db = dz.mean(axis=0) if form == "db_mean" else dz.sum(axis=0)
        return dz @ W, dW, db
    return variant


def _mse(factor: float) -> Variant:
    def variant(call: Call) -> Any:
        pred, target = _f64(call.arg(0, "pred"), call.arg(1, "target"))
        d = pred - target
        return float(np.mean(d * d)), factor * d / d.size
    return variant


def _softmax(form: str, c: float = 0.0) -> Variant:
    def variant(call: Call) -> Any:
        z = np.asarray(call.arg(0, "logits"), dtype=np.float64)
        y = np.asarray(call.arg(1, "y"))
        if z.ndim != 2 or y.shape != (z.shape[0],) or y.dtype.kind not in "iu":
            return None
        n = z.shape[0]
        rows = np.arange(n)
        s = z - z.max(axis=1, keepdims=True)
        e = np.exp(s)
        p = e / e.sum(axis=1, keepdims=True)
        if form == "clip":
            py = np.log(np.clip(p[rows, y], c, 1.0))
        elif form == "add":
            py = np.log(p[rows, y] + c)
        else:  # right, not_divided
            py = (s - np.log(e.sum(axis=1, keepdims=True)))[rows, y]
        loss = float(-np.mean(py))
        grad = p.copy()
        grad[rows, y] -= 1.0
        if form != "not_divided":
            grad /= n
        return loss, grad
    return variant


_CLIPS = (1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15, 1e-16, float(np.finfo(np.float64).eps),
          1e-20, 1e-30, 1e-100)
"""The clipping constants students write (``np.clip(p, c, 1)`` or ``np.log(p + c)``)."""


def _network_forward(relu_last: bool) -> Variant:
    def variant(call: Call) -> Any:
        a = np.asarray(call.arg(0, "X"), dtype=np.float64)
        params = call.arg(1, "params")
        for i, (W, b) in enumerate(params):
            a = a @ np.asarray(W, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
            if i < len(params) - 1 or relu_last:
                a = np.maximum(a, 0)
        return a
    return variant


def _network_backward(relu_derivative: bool) -> Variant:
    def variant(call: Call) -> Any:
        fwd = call.forward("network_forward")
        if fwd is None:
            return None
        a = np.asarray(fwd.arg(0, "X"), dtype=np.float64)
        layers = []
        for i, (W, b) in enumerate(fwd.arg(1, "params")):
            W, b = _f64(W, b)
            z = a @ W.T + b
            layers.append((a, W, z))
            a = np.maximum(z, 0) if i < len(fwd.arg(1, "params")) - 1 else z
        dz = np.asarray(call.arg(0, "dlogits"), dtype=np.float64)
        grads = []
        for i in range(len(layers) - 1, -1, -1):
            a, W, _ = layers[i]
            grads.append((dz.T @ a, dz.sum(axis=0)))
            if i > 0:
                dz = dz @ W
                if relu_derivative:
                    dz = dz * (layers[i - 1][2] > 0)
        return grads[::-1]
    return variant


def _bn_stats(x: np.ndarray, axis: int, ddof: int) -> tuple[np.ndarray, np.ndarray]:
    mu = x.mean(axis=axis, keepdims=True)
    var = ((x - mu) ** 2).sum(axis=axis, keepdims=True) / (x.shape[axis] - ddof)
    return mu, var


def _bn_forward(axis: int = 0, ddof: int = 0, eps_outside: bool = False) -> Variant:
    def variant(call: Call) -> Any:
        x, gamma, beta = _f64(call.arg(0, "x"), call.arg(1, "gamma"), call.arg(2, "beta"))
        eps = float(call.arg(3, "eps", 1e-5))
        if x.ndim != 2 or x.shape[axis] - ddof < 1:
            return None
        mu, var = _bn_stats(x, axis, ddof)
        den = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
        return gamma * (x - mu) / den + beta
    return variant


def _norm_backward(forward: str, axis: int, form: str = "") -> Variant:
    """Batch norm (axis 0) or layer norm (axis 1) backward, or a mistake's form of it."""
    def variant(call: Call) -> Any:
        fwd = call.forward(forward)
        if fwd is None:
            return None
        x, gamma = _f64(fwd.arg(0, "x"), fwd.arg(1, "gamma"))
        eps = float(fwd.arg(3, "eps", 1e-5))
        dout = np.asarray(call.arg(0, "dout"), dtype=np.float64)
        if x.ndim != 2 or dout.shape != x.shape:
            return None
        # the statistics: over ``axis``, or over the batch when the whole backward is
        # batch norm's ("ln_dx_batch_axis"); the sums of dx's terms: over ``red``
        stat = 0 if form == "ln_dx_batch_axis" else axis
        red = 0 if form in ("ln_dx_batch_axis", "ln_dx_sums_batch_axis") else axis
        m = x.shape[stat]
        mu, var = _bn_stats(x, stat, 0)
        invstd = 1.0 / np.sqrt(var + eps)
        xhat = (x - mu) * invstd
        g = dout * gamma
        mean_term = 0.0 if form == "no_dmu" else g.sum(axis=red, keepdims=True)
        var_term = 0.0 if form == "no_dvar" else xhat * (g * xhat).sum(axis=red, keepdims=True)
        dx = invstd / m * (m * g - mean_term - var_term)
        if stat != axis:  # the true xhat for the parameter gradients
            mu, var = _bn_stats(x, axis, 0)
            xhat = (x - mu) / np.sqrt(var + eps)
        pa = 1 if form in ("ln_dgamma_axis", "ln_both_axis") else 0
        pb = 1 if form in ("ln_dbeta_axis", "ln_both_axis") else 0
        return dx, (dout * xhat).sum(axis=pa), dout.sum(axis=pb)
    return variant


def _bn_inference(form: str = "") -> Variant:
    def variant(call: Call) -> Any:
        x, gamma, beta, rm, rv = _f64(*(call.arg(i, n) for i, n in enumerate(
            ("x", "gamma", "beta", "running_mean", "running_var"))))
        eps = float(call.arg(5, "eps", 1e-5))
        if form in ("batch", "batch_unbiased"):
            if x.ndim != 2 or x.shape[0] < 2:
                return None
            rm, rv = _bn_stats(x, 0, 1 if form == "batch_unbiased" else 0)
        den = np.sqrt(rv) + eps if form == "eps_outside" else np.sqrt(rv + eps)
        xhat = (x - rm) / den
        return xhat if form == "no_affine" else gamma * xhat + beta
    return variant


def _running(form: str = "") -> Variant:
    def variant(call: Call) -> Any:
        rm, rv, bm, bv = _f64(*(call.arg(i, n) for i, n in enumerate(
            ("running_mean", "running_var", "batch_mean", "batch_var"))))
        n = call.arg(4, "n")
        mom = float(call.arg(5, "momentum", 0.1))
        if not isinstance(n, (int, np.integer)) or n < 2:
            return None
        keep, new = (mom, 1 - mom) if form == "swapped" else (1 - mom, mom)
        var = bv if form == "biased" else bv * (n / (n - 1))
        return keep * rm + new * bm, keep * rv + new * var
    return variant


def _layernorm_forward(axis: int) -> Variant:
    def variant(call: Call) -> Any:
        x, gamma, beta = _f64(call.arg(0, "x"), call.arg(1, "gamma"), call.arg(2, "beta"))
        eps = float(call.arg(3, "eps", 1e-5))
        if x.ndim != 2:
            return None
        mu, var = _bn_stats(x, axis, 0)
        return gamma * (x - mu) / np.sqrt(var + eps) + beta
    return variant


def _adam(form: str = "") -> Variant:
    def variant(call: Call) -> Any:
        w, dw, m, v = _f64(*(call.arg(i, n) for i, n in enumerate(("w", "dw", "m", "v"))))
        t = call.arg(4, "t")
        lr = float(call.arg(5, "lr", 1e-3))
        b1, b2 = float(call.arg(6, "beta1", 0.9)), float(call.arg(7, "beta2", 0.999))
        eps = float(call.arg(8, "eps", 1e-8))
        if not isinstance(t, (int, np.integer)) or t < 1:
            return None
        m = b1 * m + (1 - b1) * dw
        v = b2 * v + (1 - b2) * dw * dw
        if form == "no_correction":
            mh, vh = m, v
        elif form == "without_t":
            mh, vh = m / (1 - b1), v / (1 - b2)
        else:
            mh, vh = m / (1 - b1**t), v / (1 - b2**t)
        den = np.sqrt(vh + eps) if form == "eps_inside" else np.sqrt(vh) + eps
        return -lr * mh / den, m, v  # the step, as _adam_step reads the output
    return variant


def _act(forward: str) -> Spec:
    derivs: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "sigmoid_forward": lambda x: _sig(x) * (1 - _sig(x)),
        "tanh_forward": lambda x: 1 - np.tanh(x) ** 2,
        "relu_forward": lambda x: (x > 0).astype(np.float64),
    }
    return Spec(_whole, _act_backward(forward, derivs[forward]), {})


def _relu_from_dout(call: Call) -> Any:
    if _x_of(call, "relu_forward") is None:
        return None
    dout = np.asarray(call.arg(0, "dout"), dtype=np.float64)
    return dout * (dout > 0)


VARIANTS: dict[str, Spec] = {
    "numerical_gradient": Spec(_whole, _numgrad(False), {
        "numgrad_forward_difference": (_numgrad(True),)}),
    "sigmoid_backward": _act("sigmoid_forward")._replace(variants={
        "sigmoid_backward_uses_input": (_act_backward("sigmoid_forward", lambda x: x * (1 - x)),
                                        )}),
    "tanh_backward": _act("tanh_forward")._replace(variants={
        "tanh_backward_wrong_derivative": (
            _act_backward("tanh_forward", lambda x: 1 - x * x),
            _act_backward("tanh_forward", lambda x: 1 - np.tanh(x)))}),
    "relu_backward": _act("relu_forward")._replace(variants={
        "relu_backward_mask_from_dout": (_relu_from_dout,)}),
    "dense_forward": Spec(_first, lambda c: (
        np.asarray(c.arg(0, "x"), dtype=np.float64) @ np.asarray(c.arg(1, "W"), np.float64).T
        + np.asarray(c.arg(2, "b"), dtype=np.float64)), {
        "dense_forward_no_bias": (lambda c: np.asarray(c.arg(0, "x"), dtype=np.float64)
                                  @ np.asarray(c.arg(1, "W"), dtype=np.float64).T,)}),
    "dense_backward": Spec(_whole, _dense_backward(""), {
        "dense_db_mean": (_dense_backward("db_mean"),),
        "dense_dW_transposed": (_dense_backward("dW_T"),)}),
    "mse_loss": Spec(_whole, _mse(2.0), {"mse_no_factor_two": (_mse(1.0),)}),
    "softmax_cross_entropy": Spec(_whole, _softmax("right"), {
        "softmax_grad_not_divided_by_n": (_softmax("not_divided"),),
        "softmax_clamped_probability": tuple(_softmax(form, c) for c in _CLIPS
                                             for form in ("clip", "add"))}),
    "network_forward": Spec(_first, _network_forward(False), {
        "network_activation_on_output": (_network_forward(True),)}),
    "network_backward": Spec(_whole, _network_backward(True), {
        "network_backward_no_relu_derivative": (_network_backward(False),)}),
    "batchnorm_forward": Spec(_first, _bn_forward(), {
        "bn_unbiased_variance": (_bn_forward(ddof=1),),
        "bn_eps_outside_sqrt": (_bn_forward(eps_outside=True),),
        "bn_wrong_axis": (_bn_forward(axis=1),)}),
    "batchnorm_inference": Spec(_whole, _bn_inference(), {
        "bn_eps_outside_sqrt": (_bn_inference("eps_outside"),),
        "bn_inference_batch_stats": (_bn_inference("batch"), _bn_inference("batch_unbiased")),
        "bn_inference_no_affine": (_bn_inference("no_affine"),)}),
    "running_stats_update": Spec(_whole, _running(), {
        "running_momentum_swapped": (_running("swapped"),),
        "running_var_biased": (_running("biased"),)}),
    "layernorm_forward": Spec(_first, _layernorm_forward(1), {
        "ln_wrong_axis": (_layernorm_forward(0),)}),
    "layernorm_backward": Spec(_whole, _norm_backward("layernorm_forward", 1), {
        "ln_backward_wrong_axis": tuple(_norm_backward("layernorm_forward", 1, form) for form in
                                        ("ln_dx_batch_axis", "ln_dx_sums_batch_axis",
                                         "ln_dgamma_axis",
                                         "ln_dbeta_axis", "ln_both_axis"))}),
    "adam_update": Spec(_adam_step, _adam(), {
        "adam_no_bias_correction": (_adam("no_correction"),),
        "adam_bias_correction_without_t": (_adam("without_t"),),
        "adam_eps_inside_sqrt": (_adam("eps_inside"),)}),
}
for _name in ("batchnorm_backward", "batchnorm_backward_fast"):
    VARIANTS[_name] = Spec(_whole, _norm_backward("batchnorm_forward", 0), {
        "bn_backward_missing_dmu": (_norm_backward("batchnorm_forward", 0, "no_dmu"),),
        "bn_backward_missing_dvar": (_norm_backward("batchnorm_forward", 0, "no_dvar"),)})
"""Function -> how its output is judged and what each of its catalogued mistakes gives."""
