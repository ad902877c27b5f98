"""Time one training step of nnlib against a hand-fused numpy step of the same network.

The network is the one of Ioffe & Szegedy (2015), Figure 1: 784-100-100-100-10 with
BatchNorm before each sigmoid (so the hidden Dense layers have no bias: BatchNorm's beta
takes its place), softmax cross-entropy, plain SGD, mini-batches of 60.
We ship no MNIST, so the batch is random data of that shape (the cost does not depend on
the values).

One step = forward, softmax cross-entropy, backward, SGD update. The library step is the
code a user writes (``model.forward``, ``F.softmax_cross_entropy``, ``model.backward``,
``opt.step()``). The fused step is straight-line numpy with every buffer preallocated.
Both start from the same weights, and the script first checks that one step of each gives
the same parameters, so the two really compute the same thing.

Each comes in two variants: without dL/dX (the library's ``model.backward(dlogits,
input_grad=False)``, as ``nnlib.fit`` takes a step) and with it (the plain
``model.backward(dlogits)``; the fused step then also computes dL/dX, one more
60x100x784 matrix product). Each library variant is compared with the fused variant that
does the same work.

Timing: for each dtype, blocks of steps of the four implementations alternate in rotating
order so that load from other processes hits all alike. Printed: the median and the
minimum time per step over the blocks, the median over the rounds of the ratio library /
fused of blocks run back to back (robust to load that changes over time), and the ratio
of the minima.

Usage::

    python benchmarks/train_step.py [--repeats 201] [--number 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

# One BLAS thread: on a small shared machine, BLAS threads that wait for a busy core make
# the timings noisy, and matrices of this size gain little from threading. Set
# OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) yourself to override.
if "OMP_NUM_THREADS" not in os.environ:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import nnlib  # noqa: E402
import nnlib.functional as F  # noqa: E402

SIZES = (784, 100, 100, 100, 10)
BATCH = 60
LR = 0.01
MOMENTUM = 0.1
EPS = 1e-5


def build_library(dtype: type, seed: int = 0) -> tuple[nnlib.Sequential, nnlib.SGD]:
    rng = np.random.default_rng(seed)
    layers: list[nnlib.Layer] = []
    for a, b in zip(SIZES[:-2], SIZES[1:-1], strict=True):
        layers += [nnlib.Dense(a, b, rng=rng, dtype=dtype, bias=False),
                   nnlib.BatchNorm(b, dtype=dtype), nnlib.Sigmoid()]
    layers.append(nnlib.Dense(SIZES[-2], SIZES[-1], rng=rng, dtype=dtype))
    model = nnlib.Sequential(layers)
    return model, nnlib.SGD(model.parameters(), lr=LR)


class Fused:
    """The same network as straight-line numpy with preallocated buffers."""

    def __init__(self, model: nnlib.Sequential, dtype: type) -> None:
        dense = [layer for layer in model if isinstance(layer, nnlib.Dense)]
        bns = [layer for layer in model if isinstance(layer, nnlib.BatchNorm)]
        self.W = [d.params["W"].copy() for d in dense]
        self.b = dense[-1].params["b"].copy()  # the hidden layers have no bias (BN's beta)
        self.gamma = [bn.params["gamma"].copy() for bn in bns]
        self.beta = [bn.params["beta"].copy() for bn in bns]
        self.rm = [bn.running_mean.copy() for bn in bns]
        self.rv = [bn.running_var.copy() for bn in bns]
        n = BATCH
        e = lambda *shape: np.empty(shape, dtype=dtype)  # noqa: E731
        h = SIZES[1:-1]
        self.z = [e(n, d) for d in h]          # dense outputs (BN inputs)
        self.xmu = [e(n, d) for d in h]
        self.xhat = [e(n, d) for d in h]
        self.s = [e(n, d) for d in h]          # sigmoid outputs
        self.mu = [e(d) for d in h]
        self.var = [e(d) for d in h]
        self.invstd = [e(d) for d in h]
        self.tmp_d = [e(d) for d in h]
        self.tmp_nd = [e(n, d) for d in h]
        self.logits = e(n, SIZES[-1])
        self.rowmax = e(n, 1)
        self.rowsum = e(n, 1)
        self.dW = [np.empty_like(w) for w in self.W]
        self.db = np.empty_like(self.b)
        self.dgamma = [e(d) for d in h]
        self.dbeta = [e(d) for d in h]
        self.da = [e(n, d) for d in h]         # gradient w.r.t. sigmoid outputs
        self.dz = [e(n, d) for d in h]
        self.rows = np.arange(n)
        self.scale_var = MOMENTUM * n / (n - 1)
        self.dX = e(n, SIZES[0])               # dL/dX, with input_grad=True only

    def step(self, X: np.ndarray, y: np.ndarray, input_grad: bool = False) -> float:
        n = X.shape[0]
        a = X
        for i in range(3):
            z, xmu, xhat, s = self.z[i], self.xmu[i], self.xhat[i], self.s[i]
            mu, var, invstd, t = self.mu[i], self.var[i], self.invstd[i], self.tmp_d[i]
            np.matmul(a, self.W[i].T, out=z)
            np.mean(z, axis=0, out=mu)
            np.subtract(z, mu, out=xmu)
            np.multiply(xmu, xmu, out=s)
            np.mean(s, axis=0, out=var)
            np.add(var, EPS, out=invstd)
            np.sqrt(invstd, out=invstd)
            np.reciprocal(invstd, out=invstd)
            np.multiply(xmu, invstd, out=xhat)
            np.multiply(xhat, self.gamma[i], out=s)
            s += self.beta[i]
            # running statistics
            self.rm[i] *= 1 - MOMENTUM
            np.multiply(mu, MOMENTUM, out=t)
            self.rm[i] += t
            self.rv[i] *= 1 - MOMENTUM
            np.multiply(var, self.scale_var, out=t)
            self.rv[i] += t
            # sigmoid 1 / (1 + exp(-x)); exp overflows to inf for very negative x -> exactly 0
            np.negative(s, out=s)
            with np.errstate(over="ignore"):
                np.exp(s, out=s)
            s += 1
            np.reciprocal(s, out=s)
            a = s
        logits = self.logits
        np.matmul(a, self.W[3].T, out=logits)
        logits += self.b
        # softmax cross-entropy
        np.max(logits, axis=1, keepdims=True, out=self.rowmax)
        logits -= self.rowmax
        np.exp(logits, out=logits)
        np.sum(logits, axis=1, keepdims=True, out=self.rowsum)
        logits /= self.rowsum
        loss = -float(np.log(logits[self.rows, y]).mean())
        logits[self.rows, y] -= 1
        logits *= 1.0 / n
        dout = logits
        # backward, output layer
        np.matmul(dout.T, self.s[2], out=self.dW[3])
        np.sum(dout, axis=0, out=self.db)
        np.matmul(dout, self.W[3], out=self.da[2])
        for i in (2, 1, 0):
            s, da, dz, xhat, t = self.s[i], self.da[i], self.dz[i], self.xhat[i], self.tmp_nd[i]
            # sigmoid: dy = da * s * (1 - s)
            np.subtract(1, s, out=t)
            t *= s
            t *= da
            # batch norm (compact form)
            np.sum(t, axis=0, out=self.dbeta[i])
            np.multiply(t, xhat, out=dz)
            np.sum(dz, axis=0, out=self.dgamma[i])
            np.multiply(t, n, out=dz)
            dz -= self.dbeta[i]
            np.multiply(xhat, self.dgamma[i], out=t)
            dz -= t
            np.multiply(self.gamma[i], self.invstd[i], out=self.tmp_d[i])
            self.tmp_d[i] *= 1.0 / n
            dz *= self.tmp_d[i]
            # dense
            a_prev = X if i == 0 else self.s[i - 1]
            np.matmul(dz.T, a_prev, out=self.dW[i])
            if i > 0:
                np.matmul(dz, self.W[i], out=self.da[i - 1])
            elif input_grad:
                np.matmul(dz, self.W[0], out=self.dX)
        # SGD
        for p, g in ((self.W, self.dW), ([self.b], [self.db]), (self.gamma, self.dgamma),
                     (self.beta, self.dbeta)):
            for w, dw in zip(p, g, strict=True):
                dw *= LR
                w -= dw
        return loss


def library_step(model: nnlib.Sequential, opt: nnlib.SGD, X: np.ndarray,
                 y: np.ndarray) -> float:
    """A training step as nnlib.fit takes it: no gradient with respect to the input X."""
    logits = model.forward(X)
    loss, dlogits = F.softmax_cross_entropy(logits, y)
    model.backward(dlogits, input_grad=False)
    opt.step()
    return loss


def library_step_with_dx(model: nnlib.Sequential, opt: nnlib.SGD, X: np.ndarray,
                         y: np.ndarray) -> float:
    """The plain ``model.backward(dlogits)``, which also returns dL/dX (unused here)."""
    logits = model.forward(X)
    loss, dlogits = F.softmax_cross_entropy(logits, y)
    model.backward(dlogits)
    opt.step()
    return loss


def check_same_network(dtype: type, X: np.ndarray, y: np.ndarray) -> float:
    """One step of each from the same start: return the largest relative parameter difference."""
    model, opt = build_library(dtype)
    fused = Fused(model, dtype)
    other, other_opt = build_library(dtype)
    l1 = library_step(model, opt, X, y)
    l2 = fused.step(X, y)
    library_step_with_dx(other, other_opt, X, y)
    for p, q in zip(model.parameters(), other.parameters(), strict=True):
        if not np.array_equal(p.value, q.value):
            sys.exit("the two library steps disagree")
    dense = [layer for layer in model if isinstance(layer, nnlib.Dense)]
    bns = [layer for layer in model if isinstance(layer, nnlib.BatchNorm)]
    pairs = [(d.params["W"], w) for d, w in zip(dense, fused.W, strict=True)]
    pairs += [(dense[-1].params["b"], fused.b)]
    pairs += [(bn.params["beta"], b) for bn, b in zip(bns, fused.beta, strict=True)]
    pairs += [(bn.params["gamma"], g) for bn, g in zip(bns, fused.gamma, strict=True)]
    pairs += [(bn.running_var, v) for bn, v in zip(bns, fused.rv, strict=True)]
    worst = max(nnlib.relative_error(a, b) for a, b in pairs)
    worst = max(worst, abs(l1 - l2) / abs(l1))
    # dL/dX: the library's model.backward(dlogits) against the fused step's
    third, _ = build_library(dtype)
    fused_dx = Fused(third, dtype)
    fused_dx.step(X, y, input_grad=True)
    _, dlogits = F.softmax_cross_entropy(third.forward(X), y)
    worst = max(worst, nnlib.relative_error(third.backward(dlogits), fused_dx.dX))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    if not worst < tol:
        sys.exit(f"library and fused steps disagree ({dtype.__name__}): {worst:.2e}")
    return worst


def time_block(fn, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def bench(dtype: type, repeats: int, number: int) -> dict[str, list[float]]:
    rng = np.random.default_rng(1)
    X = rng.uniform(0.0, 1.0, (BATCH, SIZES[0])).astype(dtype)
    y = rng.integers(0, SIZES[-1], BATCH)
    model, opt = build_library(dtype)
    model2, opt2 = build_library(dtype)
    fused = Fused(model, dtype)
    fused2 = Fused(model2, dtype)
    steps = {"library": lambda: library_step(model, opt, X, y),
             "fused": lambda: fused.step(X, y),
             "library+dX": lambda: library_step_with_dx(model2, opt2, X, y),
             "fused+dX": lambda: fused2.step(X, y, input_grad=True)}
    for fn in steps.values():  # warm up caches, the allocator and BLAS
        time_block(fn, number)
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:  # rotate the order
            times[name].append(time_block(steps[name], number))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=201, help="alternating blocks per dtype")
    parser.add_argument("--number", type=int, default=5, help="steps per block")
    args = parser.parse_args(argv)

    print(f"nnlib {nnlib.__version__}, numpy {np.__version__}, one training step of "
          f"{'-'.join(map(str, SIZES))} with BatchNorm before each sigmoid, batch {BATCH}")
    print(f"{args.repeats} alternating blocks of {args.number} steps per implementation "
          f"and dtype; times per step in microseconds")
    print(f"{'dtype':8} {'step':11} {'median':>8} {'min':>8} {'ratio paired':>13} "
          f"{'ratio min':>10}")
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(2)
        Xc = rng.uniform(0.0, 1.0, (BATCH, SIZES[0])).astype(dtype)
        err = check_same_network(dtype, Xc, rng.integers(0, SIZES[-1], BATCH))
        t = bench(dtype, args.repeats, args.number)
        med = {k: statistics.median(v) for k, v in t.items()}
        low = {k: min(v) for k, v in t.items()}
        for name in ("fused", "library", "fused+dX", "library+dX"):
            ratio = ""
            if name.startswith("library"):
                base = name.replace("library", "fused")
                paired = statistics.median(a / b for a, b in zip(t[name], t[base], strict=True))
                ratio = f"{paired:13.3f} {low[name] / low[base]:10.3f}"
            print(f"{np.dtype(dtype).name:8} {name:11} {med[name] * 1e6:8.1f} "
                  f"{low[name] * 1e6:8.1f} {ratio}")
        print(f"{'':8} (library and fused agree after one step to {err:.1e})")
    print("library: model.forward, F.softmax_cross_entropy, model.backward(dlogits, "
          "input_grad=False),\n  opt.step(), as nnlib.fit does; library+dX: the same with "
          "model.backward(dlogits),\n  which also computes dL/dX (one more 60x100x784 matrix "
          "product) that a training step\n  does not need; fused: straight-line numpy with "
          "preallocated buffers; fused+dX: the same,\n  computing dL/dX too. Each library "
          "row is compared with the fused row above it.\nRatio paired: median over the rounds "
          "of library / fused measured back to back;\nratio min: fastest library block / "
          "fastest fused block.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
