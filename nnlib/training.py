"""The training loop: :func:`fit`, :func:`evaluate` and :func:`predict`.

``fit`` runs mini-batch training epoch after epoch: shuffle the rows with the given
``rng``, then for every mini-batch run forward, the loss, backward and ``optimizer.step()``.
It returns a :class:`History` of per-epoch losses and accuracies.

Losses are named by a string or given as a callable ``loss(pred, y) -> (loss, dpred)``:

=========================  ==================================  ==================================
name                       kernel in nnlib.functional          targets ``y``
=========================  ==================================  ==================================
"softmax_cross_entropy"    softmax_cross_entropy               integer labels, shape (N,)
"binary_cross_entropy"     binary_cross_entropy_with_logits    0/1 values, shape (N,) or (N, 1)
"mse"                      mse_loss                            floats, the shape of the output
=========================  ==================================  ==================================

The model outputs *logits* for both cross-entropies (no softmax or sigmoid layer at the
end). Accuracy is reported for the two cross-entropies only. A callable with an attribute
``loss_kind`` of "multiclass", "binary" or "regression" is treated like the named loss of
that kind (targets checked, accuracy reported); the student's losses of
:func:`nnlib.grading.student_layers` carry it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nnlib._runtime import progress_bar, single_threaded_blas
from nnlib._training_checks import (
    LOSSES,
    LossFn,
    ModelMode,
    batch_accuracy,
    check_model,
    check_optimizer_owns,
    check_targets,
    check_X,
    resolve_loss,
)
from nnlib.module import Layer
from nnlib.optim import Optimizer

__all__ = ["History", "fit", "evaluate", "predict", "LOSSES"]


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch.

    Attributes
    ----------
    loss : list of float
        Mean training loss over the epoch's mini-batches (weighted by their sizes),
        measured during the epoch, i.e. while the parameters were still changing.
    accuracy : list of float
        Training accuracy over the same mini-batches; empty for "mse" and for a callable
        loss without a ``loss_kind`` of "multiclass" or "binary".
    val_loss, val_accuracy : list of float
        Loss and accuracy on ``validation_data`` at the end of each epoch, in inference
        mode; empty without validation data (``val_accuracy`` also where ``accuracy`` is).
    step_loss : list of float
        The loss of every single mini-batch, in order (for plotting learning curves).
    epochs : int
        Number of epochs completed.
    steps : int
        Number of optimizer steps taken.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    epochs: int = 0
    steps: int = 0

    def summary(self) -> str:
        """One line about the last epoch, e.g. ``"epoch 10: loss 0.1234, accuracy 0.9650"``."""
        if not self.epochs:
            return "no epoch completed"
        parts = [f"epoch {self.epochs}: loss {self.loss[-1]:.4f}"]
        if self.accuracy:
            parts.append(f"accuracy {self.accuracy[-1]:.4f}")
        if self.val_loss:
            parts.append(f"val_loss {self.val_loss[-1]:.4f}")
        if self.val_accuracy:
            parts.append(f"val_accuracy {self.val_accuracy[-1]:.4f}")
        return ", ".join(parts)


def _output_shape(model: Layer, X: np.ndarray, who: str) -> tuple[int, ...]:
    """Shape of the model's output for one row (in inference mode, so nothing changes)."""
    first = model.leaves()[0]
    d = getattr(first, "in_features", getattr(first, "num_features", None))
    if isinstance(d, int) and X.shape[1] != d:
        name = getattr(first, "name", type(first).__name__)
        raise ValueError(f"{who}: X has shape {X.shape}, {X.shape[1]} features per row, but the "
                         f"model's first layer {name} expects (N, {d}).")
    return predict(model, X[:1]).shape


# --------------------------------------------------------------------------- public API
@single_threaded_blas
def predict(model: Layer, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Model outputs for ``X`` in inference mode; the previous mode is restored afterwards.

    Parameters
    ----------
    model : Layer or Sequential
    X : ndarray, shape (N, D)
    batch_size : int, optional
        Run the forward pass on this many rows at a time (default: all at once).

    Returns
    -------
    ndarray, shape (N, C)
        The raw outputs (logits for a classifier: ``.argmax(axis=1)`` gives the classes).
    """
    model = check_model(model, "predict")
    X = check_X(X, "predict")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"predict: batch_size must be a positive integer or None, got "
                         f"{batch_size!r}.")
    with ModelMode(model, training=False):
        if batch_size is None or batch_size >= X.shape[0]:
            return model.forward(X)
        return np.concatenate([model.forward(X[i:i + batch_size])
                               for i in range(0, X.shape[0], batch_size)])


@single_threaded_blas
def evaluate(
    model: Layer,
    X: np.ndarray,
    y: np.ndarray,
    loss: str | LossFn = "softmax_cross_entropy",
    batch_size: int | None = None,
) -> tuple[float, float | None]:
    """Loss and accuracy of ``model`` on ``(X, y)`` in inference mode.

    The model is switched to inference mode for the computation and then back to the
    mode it was in; no parameter, buffer or random generator changes.

    Parameters
    ----------
    model : Layer or Sequential
    X : ndarray, shape (N, D)
    y : ndarray
        Targets, as for :func:`fit`.
    loss : str or callable
        As for :func:`fit`.
    batch_size : int, optional
        Passed to :func:`predict`.

    Returns
    -------
    loss : float
    accuracy : float or None
        Fraction of correct predictions for the two cross-entropies; None for "mse" and
        callable losses (unless their ``loss_kind`` is "multiclass" or "binary").
    """
    model = check_model(model, "evaluate")
    fn, kind = resolve_loss(loss, "evaluate")
    X = check_X(X, "evaluate")
    pred = predict(model, X, batch_size=batch_size)
    y = check_targets(y, X.shape[0], kind, pred.shape, "evaluate")
    value, _ = fn(pred, y)
    return float(value), batch_accuracy(pred, y, kind)


@single_threaded_blas
def fit(
    model: Layer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    optimizer: Optimizer,
    loss: str | LossFn = "softmax_cross_entropy",
    epochs: int = 10,
    batch_size: int = 32,
    rng: np.random.Generator,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    verbose: int = 1,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batch gradient descent.

    Every epoch visits each row once in a fresh random order drawn from ``rng``
    (mini-batches without replacement). The last mini-batch may be smaller than
    ``batch_size``; when it would be smaller than a layer's ``min_training_batch`` (a
    BatchNorm layer cannot normalize a single example), those examples are skipped for
    this epoch; the next epoch's shuffle gives them another chance.

    Parameters
    ----------
    model : Layer or Sequential
        Trained in place. It is in training mode during ``fit`` and is returned to the
        mode it was in before.
    X : ndarray, shape (N, D)
        Inputs, one example per row, in the dtype of the model's parameters.
    y : ndarray
        Targets: integer labels of shape (N,) for "softmax_cross_entropy"; 0/1 values of
        the output's shape for "binary_cross_entropy"; values of the output's shape for
        "mse" (shape (N,) is accepted for a single output column).
    optimizer : Optimizer
        Built on ``model.parameters()``; ``optimizer.step()`` runs after every backward.
    loss : {"softmax_cross_entropy", "binary_cross_entropy", "mse"} or callable
        A callable gets ``(pred, y_batch)`` and returns ``(loss, dL/dpred)``.
    epochs : int
        Passes over the data, >= 1.
    batch_size : int
        Rows per mini-batch, >= 1.
    rng : numpy.random.Generator
        Draws the order of the rows; the same seed gives the same history.
    validation_data : (X_val, y_val), optional
        Evaluated in inference mode after every epoch.
    verbose : int
        0: silent; 1: a progress bar (a widget in Jupyter); 2: one printed line per epoch.

    Returns
    -------
    History
        Per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``.

    Raises
    ------
    FloatingPointError
        When the loss becomes NaN or infinite; the message names the epoch and the step.
        The usual cause is a learning rate that is too large.

    Examples
    --------
    >>> import numpy as np, nnlib
    >>> rng = np.random.default_rng(0)
    >>> X, y = nnlib.datasets.load_digits()
    >>> model = nnlib.Sequential([nnlib.Dense(64, 32, rng=rng), nnlib.ReLU(),
    ...                           nnlib.Dense(32, 10, rng=rng)])
    >>> hist = nnlib.fit(model, X, y, optimizer=nnlib.SGD(model.parameters(), lr=0.1),
    ...                  epochs=2, rng=rng, verbose=0)
    >>> len(hist.loss)
    2
    """
    who = "fit"
    model = check_model(model, who)
    if not hasattr(optimizer, "step"):
        raise TypeError(f"{who}: optimizer must be an nnlib optimizer such as "
                        f"nnlib.SGD(model.parameters(), lr=0.1), got {type(optimizer).__name__}.")
    check_optimizer_owns(model, optimizer, who)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{who}: pass rng=np.random.default_rng(seed) to shuffle the data; "
                        f"got {type(rng).__name__}.")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"{who}: epochs must be a positive integer, got {epochs!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"{who}: batch_size must be a positive integer, got {batch_size!r}.")
    fn, kind = resolve_loss(loss, who)
    X = check_X(X, who)
    n = X.shape[0]
    out_shape = _output_shape(model, X, who)
    y = check_targets(y, n, kind, out_shape, who)
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise TypeError(f"{who}: validation_data must be a pair (X_val, y_val).")
        Xv = check_X(validation_data[0], who, "X_val")
        if Xv.shape[1:] != X.shape[1:]:
            raise ValueError(f"{who}: X_val must have the columns of X, shape (N, {X.shape[1]}), "
                             f"got shape {Xv.shape}.")
        if Xv.dtype != X.dtype and Xv.dtype.kind == X.dtype.kind == "f":
            raise TypeError(f"{who}: X_val is {Xv.dtype} but X is {X.dtype}; convert one "
                            f"of them, e.g. X_val.astype(np.{X.dtype}).")
        yv = check_targets(validation_data[1], Xv.shape[0], kind, out_shape, who, "y_val")

    smallest = max(layer.min_training_batch for layer in model.leaves())
    if min(batch_size, n) < smallest:
        needy = next(layer for layer in model.leaves() if layer.min_training_batch == smallest)
        raise ValueError(f"{who}: {needy.name} needs at least {smallest} examples per training "
                         f"batch (its statistics are computed over the batch), got "
                         + (f"batch_size={batch_size}." if batch_size < n else f"{n} rows in X.")
                         + f" Use batch_size >= {smallest}.")
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] < smallest:
        starts.pop()  # e.g. a BatchNorm layer cannot train on a batch of one example
    history = History()
    lr = getattr(optimizer, "lr", None)

    bar = None
    if verbose == 1:
        bar = progress_bar(total=epochs, desc="fit", unit="epoch", leave=True)
    try:
        # Divergence is reported below as a FloatingPointError naming the epoch and step,
        # so numpy's overflow warnings on the way there would only be noise.
        with ModelMode(model, training=True), np.errstate(over="ignore", invalid="ignore",
                                                      divide="ignore"):
            for epoch in range(1, epochs + 1):
                order = rng.permutation(n)
                total = 0.0
                correct = 0.0
                seen = 0
                for step, start in enumerate(starts, 1):
                    idx = order[start:start + batch_size]
                    xb, yb = X[idx], y[idx]
                    pred = model.forward(xb)
                    value, dpred = fn(pred, yb)
                    value = float(value)
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"fit: the loss became {value} at epoch {epoch}, step {step} "
                            f"(optimizer step {history.steps + 1} overall). The updates are "
                            f"diverging: try a smaller learning rate"
                            + (f" than lr={lr:g}" if isinstance(lr, float) else "") + "."
                        )
                    m = xb.shape[0]
                    acc = batch_accuracy(pred, yb, kind)
                    if acc is not None:
                        correct += acc * m
                    model.backward(dpred, input_grad=False)  # dL/dX is not needed
                    optimizer.step()
                    history.steps += 1
                    history.step_loss.append(value)
                    total += value * m
                    seen += m
                bad = [p.name for p in model.parameters() if not np.isfinite(p.value).all()]
                if bad:
                    raise FloatingPointError(
                        f"fit: parameter {bad[0]} became NaN or infinite at epoch {epoch}, "
                        f"step {len(starts)}. The updates are diverging: try a smaller "
                        "learning rate" + (f" than lr={lr:g}" if isinstance(lr, float) else "")
                        + "."
                    )
                history.loss.append(total / seen)
                if kind in ("multiclass", "binary"):
                    history.accuracy.append(correct / seen)
                if validation_data is not None:
                    vloss, vacc = evaluate(model, Xv, yv, loss=fn if kind == "custom" else loss)
                    history.val_loss.append(vloss)
                    if vacc is not None:
                        history.val_accuracy.append(vacc)
                history.epochs = epoch
                if bar is not None:
                    bar.set_postfix_str(history.summary().split(": ", 1)[1], refresh=False)
                    bar.update(1)
                elif verbose >= 2:
                    print(history.summary())
    finally:
        if bar is not None:
            bar.close()
    return history
