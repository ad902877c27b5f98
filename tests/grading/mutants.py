"""Deliberate mistakes ("mutants") that the grader must catch, as patches to the solutions.

Each :class:`Mutant` names one real student mistake and writes it as an exact text
substitution, ``old`` -> ``new``, inside the solution region (between ``# BEGIN SOLUTION``
and ``# END SOLUTION``) of one function in ``solutions/<topic>.py``. A mutant submission is
a copy of the solutions with that one file patched (:func:`write_submission`).

``old`` must occur exactly once in that region. When a solution changes so that a snippet
no longer matches, :func:`patch` raises :class:`MutantError` naming the mutant, the
function and the file, instead of silently grading an unpatched (correct) copy.
Snippets that span lines carry the solution's indentation after each newline.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"


class MutantError(Exception):
    """A mutant's patch does not apply to the current solutions."""


@dataclass(frozen=True)
class Mutant:
    """One deliberate mistake in one exercise function.

    Attributes
    ----------
    name : str
        Unique identifier; also the student name in batch grading.
    topic : str
        The exercise topic: the patched file is ``solutions/<topic>.py``.
    function : str
        The function whose tests must lose points (and whose solution region is patched).
    mistake : str
        The student mistake, in one line.
    old, new : str
        Exact snippet of the solution region and its replacement.
    catalogue : str
        The id of the catalogued mistake (:data:`nnlib.grading.registry.MISTAKES`) this
        mutant makes, or ``""`` for a mistake outside the catalogue.
    """

    name: str
    topic: str
    function: str
    mistake: str
    old: str
    new: str
    catalogue: str = ""

    @property
    def path(self) -> Path:
        """The solution file this mutant patches."""
        return ROOT / "solutions" / f"{self.topic}.py"

    def source(self) -> str:
        """The patched source of ``solutions/<topic>.py``."""
        return patch(self, self.path.read_text(encoding="utf-8"))


def solution_region(source: str, function: str, filename: str = "<solution>") -> tuple[int, int]:
    """Line range ``(first, stop)`` (0-based, ``stop`` exclusive) of ``function``'s region.

    The region holds the lines strictly between the ``# BEGIN SOLUTION`` and the
    ``# END SOLUTION`` lines that follow the top-level ``def function(`` and precede the
    next top-level statement. Raises :class:`MutantError` unless there is exactly one.
    """
    body = ast.parse(source, filename).body
    lines = source.splitlines(keepends=True)
    for k, node in enumerate(body):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            stop = len(lines)
            if k + 1 < len(body):
                following = body[k + 1]
                decorators = getattr(following, "decorator_list", [])
                stop = min([following.lineno, *(d.lineno for d in decorators)]) - 1
            span = range(node.lineno - 1, stop)
            begins = [i for i in span if lines[i].strip() == BEGIN]
            ends = [i for i in span if lines[i].strip() == END]
            if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
                raise MutantError(f"{filename}: {function}() must hold exactly one "
                                  f"{BEGIN} ... {END} region; found {len(begins)} begin "
                                  f"and {len(ends)} end markers")
            return begins[0] + 1, ends[0]
    raise MutantError(f"{filename}: no top-level function {function}()")


def patch(mutant: Mutant, source: str) -> str:
    """Return ``source`` with ``mutant.old`` replaced by ``mutant.new`` in its function's region.

    Raises :class:`MutantError` if ``old`` does not occur exactly once in the region, or if
    the replacement leaves the source unchanged.
    """
    filename = f"solutions/{mutant.topic}.py"
    first, stop = solution_region(source, mutant.function, filename)
    lines = source.splitlines(keepends=True)
    region = "".join(lines[first:stop])
    count = region.count(mutant.old)
    if count != 1:
        raise MutantError(
            f"mutant {mutant.name}: its old snippet {mutant.old!r} occurs {count} times in "
            f"the solution region of {mutant.function}() in {filename} (lines "
            f"{first + 1}-{stop}); it must occur exactly once. The solution changed: update "
            f"the mutant in tests/grading/mutants.py so that it still makes its mistake.")
    patched = region.replace(mutant.old, mutant.new)
    if patched == region:
        raise MutantError(f"mutant {mutant.name}: its patch does not change {filename}")
    return "".join(lines[:first]) + patched + "".join(lines[stop:])


def write_submission(mutant: Mutant, dest: Path) -> Path:
    """Write a submission folder ``dest``: the solutions with the mutant's file patched."""
    dest.mkdir(parents=True)
    for f in (ROOT / "solutions").glob("*.py"):
        shutil.copyfile(f, dest / f.name)
    (dest / mutant.path.name).write_text(mutant.source(), encoding="utf-8")
    return dest


MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------ gradients
    Mutant("gradients_forward_difference", "gradients", "numerical_gradient",
           "one-sided difference (error O(h))",
           "x_work[i] = old - h\n"
           "        minus = float(f(x_work))\n"
           "        x_work[i] = old\n"
           "        grad[i] = (plus - minus) / (2.0 * h)",
           "x_work[i] = old\n"
           "        minus = float(f(x_work))\n"
           "        grad[i] = (plus - minus) / h",
           catalogue="numgrad_forward_difference"),
    Mutant("gradients_reshape_copy", "gradients", "numerical_gradient",
           "perturbs x.reshape(-1), a copy when x is not contiguous",
           "x_work = np.array(x, dtype=np.float64, copy=True)\n"
           "    grad = np.zeros(x_work.shape, dtype=np.float64)\n"
           "    for i in np.ndindex(*x_work.shape):\n"
           "        old = x_work[i]\n"
           "        x_work[i] = old + h\n"
           "        plus = float(f(x_work))\n"
           "        x_work[i] = old - h\n"
           "        minus = float(f(x_work))\n"
           "        x_work[i] = old\n"
           "        grad[i] = (plus - minus) / (2.0 * h)\n"
           "    return grad",
           "flat = x.reshape(-1)\n"
           "    grad = np.zeros(x.size)\n"
           "    for i in range(x.size):\n"
           "        old = flat[i]\n"
           "        flat[i] = old + h\n"
           "        plus = float(f(x))\n"
           "        flat[i] = old - h\n"
           "        minus = float(f(x))\n"
           "        flat[i] = old\n"
           "        grad[i] = (plus - minus) / (2.0 * h)\n"
           "    return grad.reshape(x.shape)"),
    # ------------------------------------------------------------------ activations
    Mutant("sigmoid_overflow", "activations", "sigmoid_forward",
           "naive sigmoid: exp(-x) overflows for x = -1000",
           "x = np.asarray(x)\n"
           "    e = np.exp(-np.abs(x))\n"
           "    r = 1.0 / (1.0 + e)\n"
           "    out = np.where(x >= 0, r, e * r).astype(x.dtype, copy=False)",
           "out = 1.0 / (1.0 + np.exp(-x))"),
    Mutant("sigmoid_backward_uses_input", "activations", "sigmoid_backward",
           "sigmoid derivative s(1 - s) taken at the input x instead of at s = sigma(x)",
           "s = cache\n"
           "    return dout * s * (1.0 - s)",
           "x = np.log(cache) - np.log1p(-cache)  # the input, recovered from s\n"
           "    return dout * x * (1.0 - x)",
           catalogue="sigmoid_backward_uses_input"),
    Mutant("relu_backward_dout_sign", "activations", "relu_backward",
           "ReLU backward gates on the sign of dout instead of x",
           "return dout * cache",
           "return dout * (dout > 0)",
           catalogue="relu_backward_mask_from_dout"),
    Mutant("relu_backward_in_place", "activations", "relu_backward",
           "dx = dout; dx[x <= 0] = 0: dx is dout, so the caller's dout is zeroed in place",
           "return dout * cache",
           "dx = dout\n"
           "    dx[~cache] = 0\n"
           "    return dx"),
    Mutant("tanh_backward_wrong_derivative", "activations", "tanh_backward",
           "tanh derivative 1 - t instead of 1 - t**2",
           "return dout * (1.0 - t * t)",
           "return dout * (1.0 - t)",
           catalogue="tanh_backward_wrong_derivative"),
    Mutant("tanh_backward_uses_input", "activations", "tanh_backward",
           "tanh derivative 1 - x**2 of the input instead of 1 - t**2 of the output",
           "return dout * (1.0 - t * t)",
           "x = np.arctanh(t)  # the input, recovered from t\n"
           "    return dout * (1.0 - x * x)",
           catalogue="tanh_backward_wrong_derivative"),
    # ------------------------------------------------------------------ dense
    Mutant("dense_forward_W_not_transposed", "dense", "dense_forward",
           "forward without the transpose (W taken as (in, out))",
           "return x @ W.T + b, (x, W)",
           "return x @ W + b, (x, W)"),
    Mutant("dense_forward_no_bias", "dense", "dense_forward",
           "bias forgotten: z = x @ W.T",
           "return x @ W.T + b, (x, W)",
           "return x @ W.T, (x, W)",
           catalogue="dense_forward_no_bias"),
    Mutant("dense_dW_transposed", "dense", "dense_backward",
           "forgotten transpose: dW = x.T @ dz has shape (in, out)",
           "return dz @ W, dz.T @ x, dz.sum(axis=0)",
           "return dz @ W, x.T @ dz, dz.sum(axis=0)",
           catalogue="dense_dW_transposed"),
    Mutant("dense_db_mean", "dense", "dense_backward",
           "db divided by N a second time",
           "return dz @ W, dz.T @ x, dz.sum(axis=0)",
           "return dz @ W, dz.T @ x, dz.mean(axis=0)",
           catalogue="dense_db_mean"),
    # ------------------------------------------------------------------ initialization
    Mutant("init_global_random_state", "initialization", "small_init",
           "small_init draws from numpy's global random state",
           "return rng.standard_normal((fan_out, fan_in)) * scale",
           "return np.random.randn(fan_out, fan_in) * scale"),
    Mutant("xavier_fan_in_only", "initialization", "xavier_init",
           "Xavier std from fan_in only (LeCun)",
           "std = np.sqrt(2.0 / (fan_in + fan_out))",
           "std = np.sqrt(1.0 / fan_in)",
           catalogue="xavier_fan_in_only"),
    Mutant("he_fan_out", "initialization", "he_init",
           "He std from fan_out",
           "std = np.sqrt(2.0 / fan_in)",
           "std = np.sqrt(2.0 / fan_out)",
           catalogue="he_fan_out"),
    # ------------------------------------------------------------------ losses
    Mutant("mse_missing_factor_two", "losses", "mse_loss",
           "MSE gradient without the factor 2",
           "diff * (2.0 / diff.size)",
           "diff / diff.size",
           catalogue="mse_no_factor_two"),
    Mutant("bce_naive_log", "losses", "binary_cross_entropy_with_logits",
           "binary cross-entropy via log(sigmoid): log(0) for large logits",
           "losses = np.maximum(s, 0) - s * y + np.log1p(np.exp(-np.abs(s)))",
           "p = 1.0 / (1.0 + np.exp(-s))\n"
           "    losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))"),
    Mutant("softmax_no_max_shift", "losses", "softmax_cross_entropy",
           "softmax without subtracting the row maximum",
           "shifted = logits - logits.max(axis=1, keepdims=True)\n"
           "    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
           "p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)\n"
           "    logp = np.log(p)"),
    Mutant("softmax_missing_1_over_n", "losses", "softmax_cross_entropy",
           "softmax cross-entropy gradient without 1/N",
           "dlogits[rows, y] -= 1.0\n"
           "    dlogits /= n",
           "dlogits[rows, y] -= 1.0",
           catalogue="softmax_grad_not_divided_by_n"),
    Mutant("softmax_log_underflow", "losses", "softmax_cross_entropy",
           "loss as the log of the softmax probability, which underflows to 0 (log gives -inf)",
           "loss = -float(np.mean(logp[rows, y]))",
           "p = np.exp(logp)  # the softmax probabilities\n"
           "    loss = -float(np.mean(np.log(p[rows, y])))"),
    Mutant("softmax_clamped_probability", "losses", "softmax_cross_entropy",
           "probabilities clipped to 1e-10 before the log: a confident mistake costs at most 23",
           "loss = -float(np.mean(logp[rows, y]))",
           "p = np.exp(logp)  # the softmax probabilities\n"
           "    loss = -float(np.mean(np.log(np.clip(p[rows, y], 1e-10, 1.0))))",
           catalogue="softmax_clamped_probability"),
    # ------------------------------------------------------------------ network
    Mutant("network_relu_on_output", "network", "network_forward",
           "ReLU applied to the logits too",
           "a = z if i == last else np.maximum(z, 0)",
           "a = np.maximum(z, 0)",
           catalogue="network_activation_on_output"),
    Mutant("network_backward_no_relu_derivative", "network", "network_backward",
           "backward skips the ReLU derivative",
           "dz = da * (caches[i - 1][2] > 0)",
           "dz = da",
           catalogue="network_backward_no_relu_derivative"),
    Mutant("sgd_rebinds", "network", "sgd_step",
           "W = W - lr * dW rebinds a local name: the network never changes",
           "W -= lr * dW\n"
           "        b -= lr * db",
           "W = W - lr * dW\n"
           "        b = b - lr * db"),
    # ------------------------------------------------------------------ batchnorm
    Mutant("batchnorm_wrong_axis", "batchnorm", "batchnorm_forward",
           "statistics over the features (axis 1) instead of the batch",
           "mu = x.mean(axis=0)\n"
           "    xmu = x - mu\n"
           "    var = np.mean(xmu * xmu, axis=0)",
           "mu = x.mean(axis=1, keepdims=True)\n"
           "    xmu = x - mu\n"
           "    var = np.mean(xmu * xmu, axis=1, keepdims=True)",
           catalogue="bn_wrong_axis"),
    Mutant("batchnorm_unbiased_variance", "batchnorm", "batchnorm_forward",
           "normalizes with the unbiased variance (ddof=1)",
           "var = np.mean(xmu * xmu, axis=0)",
           "var = np.var(x, axis=0, ddof=1)",
           catalogue="bn_unbiased_variance"),
    Mutant("batchnorm_eps_outside_sqrt", "batchnorm", "batchnorm_forward",
           "eps added after the square root",
           "invstd = 1.0 / np.sqrt(var + eps)",
           "invstd = 1.0 / (np.sqrt(var) + eps)",
           catalogue="bn_eps_outside_sqrt"),
    Mutant("batchnorm_backward_missing_dmu", "batchnorm", "batchnorm_backward",
           "staged backward without the dmu / m term",
           "dx = dxhat * invstd + dvar * 2.0 * xmu / m + dmu / m",
           "dx = dxhat * invstd + dvar * 2.0 * xmu / m",
           catalogue="bn_backward_missing_dmu"),
    Mutant("batchnorm_backward_missing_dvar", "batchnorm", "batchnorm_backward",
           "staged backward without the path through the variance (the dvar term)",
           "dx = dxhat * invstd + dvar * 2.0 * xmu / m + dmu / m",
           "dx = dxhat * invstd + dmu / m",
           catalogue="bn_backward_missing_dvar"),
    Mutant("batchnorm_backward_fast_missing_mean_term", "batchnorm", "batchnorm_backward_fast",
           "compact backward without the sum(dout) term",
           "(m * dout - dbeta - xhat * dgamma)",
           "(m * dout - xhat * dgamma)",
           catalogue="bn_backward_missing_dmu"),
    Mutant("batchnorm_backward_fast_missing_var_term", "batchnorm", "batchnorm_backward_fast",
           "compact backward without the xhat * sum(dout * xhat) term",
           "(m * dout - dbeta - xhat * dgamma)",
           "(m * dout - dbeta)",
           catalogue="bn_backward_missing_dvar"),
    Mutant("batchnorm_inference_uses_batch_stats", "batchnorm", "batchnorm_inference",
           "inference normalizes with the batch's statistics",
           "return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
           "mu, var = x.mean(axis=0), x.var(axis=0)\n"
           "    return gamma * (x - mu) / np.sqrt(var + eps) + beta",
           catalogue="bn_inference_batch_stats"),
    Mutant("batchnorm_inference_no_affine", "batchnorm", "batchnorm_inference",
           "inference leaves out gamma and beta",
           "return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
           "return (x - running_mean) / np.sqrt(running_var + eps)",
           catalogue="bn_inference_no_affine"),
    Mutant("batchnorm_inference_eps_outside_sqrt", "batchnorm", "batchnorm_inference",
           "inference divides by sqrt(running_var) + eps",
           "return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
           "return gamma * (x - running_mean) / (np.sqrt(running_var) + eps) + beta",
           catalogue="bn_eps_outside_sqrt"),
    Mutant("running_stats_momentum_swapped", "batchnorm", "running_stats_update",
           "momentum the wrong way round (Keras meaning)",
           "new_mean = (1.0 - momentum) * running_mean + momentum * batch_mean\n"
           "    new_var = (1.0 - momentum) * running_var + momentum * batch_var",
           "new_mean = momentum * running_mean + (1.0 - momentum) * batch_mean\n"
           "    new_var = momentum * running_var + (1.0 - momentum) * batch_var",
           catalogue="running_momentum_swapped"),
    Mutant("running_var_biased", "batchnorm", "running_stats_update",
           "running variance stores the biased batch variance",
           "momentum * batch_var * (n / (n - 1))",
           "momentum * batch_var",
           catalogue="running_var_biased"),
    Mutant("running_stats_eps_stored", "batchnorm", "running_stats_update",
           "eps stored in the running variance (batch_var + eps)",
           "momentum * batch_var * (n / (n - 1))",
           "momentum * (batch_var + 1e-5) * (n / (n - 1))"),
    Mutant("running_stats_in_place", "batchnorm", "running_stats_update",
           "updates the running statistics in place (modifies its inputs)",
           "new_mean = (1.0 - momentum) * running_mean + momentum * batch_mean\n"
           "    new_var = (1.0 - momentum) * running_var + momentum * batch_var * (n / (n - 1))\n"
           "    return new_mean, new_var",
           "running_mean *= 1.0 - momentum\n"
           "    running_mean += momentum * batch_mean\n"
           "    running_var *= 1.0 - momentum\n"
           "    running_var += momentum * batch_var * (n / (n - 1))\n"
           "    return running_mean, running_var"),
    # ------------------------------------------------------------------ dropout
    Mutant("dropout_no_rescale", "dropout", "dropout_forward",
           "inverted dropout without the 1 / (1 - p) rescale",
           ".astype(x.dtype) / np.asarray(1.0 - p, dtype=x.dtype)",
           ".astype(x.dtype)",
           catalogue="dropout_no_rescale"),
    Mutant("dropout_keep_probability_confusion", "dropout", "dropout_forward",
           "p used as the keep probability",
           "rng.random(x.shape) >= p",
           "rng.random(x.shape) < p",
           catalogue="dropout_keep_drop_confusion"),
    Mutant("dropout_mask_per_column", "dropout", "dropout_forward",
           "one draw per column (feature), shared by every row",
           "rng.random(x.shape) >= p",
           "rng.random(x.shape[-1:]) >= p",
           catalogue="dropout_mask_per_column"),
    Mutant("dropout_mask_per_row", "dropout", "dropout_forward",
           "one draw per row (example), shared by every column",
           "rng.random(x.shape) >= p",
           "rng.random(x.shape[:1] + (1,) * (x.ndim - 1)) >= p",
           catalogue="dropout_mask_per_column"),
    Mutant("dropout_2d_only", "dropout", "dropout_forward",
           "mask drawn for 2-D input only (N, D = x.shape)",
           "rng.random(x.shape) >= p",
           "rng.random((x.shape[0], x.shape[1])) >= p"),
    Mutant("dropout_global_random_state", "dropout", "dropout_forward",
           "draws the mask from numpy's global random state",
           "rng.random(x.shape) >= p",
           "np.random.rand(*x.shape) >= p"),
    Mutant("dropout_backward_new_mask", "dropout", "dropout_backward",
           "backward draws a new mask instead of reusing the forward's",
           "return dout * cache",
           "keep = np.random.default_rng(0).random(dout.shape) >= 0.5\n"
           "    return dout * keep / 0.5",
           catalogue="dropout_backward_new_mask"),
    # ------------------------------------------------------------------ layernorm
    Mutant("layernorm_wrong_axis", "layernorm", "layernorm_forward",
           "normalizes over the batch (axis 0), like batch norm",
           "mu = x.mean(axis=1, keepdims=True)\n"
           "    xmu = x - mu\n"
           "    invstd = 1.0 / np.sqrt(np.mean(xmu * xmu, axis=1, keepdims=True) + eps)",
           "mu = x.mean(axis=0, keepdims=True)\n"
           "    xmu = x - mu\n"
           "    invstd = 1.0 / np.sqrt(np.mean(xmu * xmu, axis=0, keepdims=True) + eps)",
           catalogue="ln_wrong_axis"),
    Mutant("layernorm_dgamma_wrong_axis", "layernorm", "layernorm_backward",
           "dgamma summed over the features instead of the batch",
           "return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)",
           "return dx, np.sum(dout * xhat, axis=1), dout.sum(axis=0)",
           catalogue="ln_backward_wrong_axis"),
    Mutant("layernorm_backward_dx_wrong_axis", "layernorm", "layernorm_backward",
           "dx's mean terms summed over the batch (axis 0) instead of the features",
           "- dxhat.sum(axis=1, keepdims=True)\n"
           "        - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True)",
           "- dxhat.sum(axis=0, keepdims=True)\n"
           "        - xhat * np.sum(dxhat * xhat, axis=0, keepdims=True)",
           catalogue="ln_backward_wrong_axis"),
    # ------------------------------------------------------------------ adam
    Mutant("adam_no_bias_correction", "adam", "adam_update",
           "Adam without bias correction",
           "m_hat = m_new / (1.0 - beta1**t)\n"
           "    v_hat = v_new / (1.0 - beta2**t)",
           "m_hat = m_new\n"
           "    v_hat = v_new",
           catalogue="adam_no_bias_correction"),
    Mutant("adam_bias_correction_without_t", "adam", "adam_update",
           "bias correction by 1 - beta instead of 1 - beta**t",
           "m_hat = m_new / (1.0 - beta1**t)\n"
           "    v_hat = v_new / (1.0 - beta2**t)",
           "m_hat = m_new / (1.0 - beta1)\n"
           "    v_hat = v_new / (1.0 - beta2)",
           catalogue="adam_bias_correction_without_t"),
    Mutant("adam_eps_inside_sqrt", "adam", "adam_update",
           "eps inside the square root",
           "(np.sqrt(v_hat) + eps)",
           "(np.sqrt(v_hat + eps))",
           catalogue="adam_eps_inside_sqrt"),
    # ------------------------------------------------------------------ engine
    Mutant("engine_backward_overwrites", "engine", "backward",
           "a parent's gradient is overwritten by each use instead of summed over its uses",
           "grads[p] += local * g",
           "grads[p] = local * g"),
    # ------------------------------------------------------------------ intermediates
    Mutant("intermediates_counts_one_path", "intermediates", "intermediate_grads",
           "dcounts keeps the path through probs only and forgets the one through counts_sum",
           'g["counts"] = v["counts_sum_inv"] * g["probs"] + g["counts_sum"]',
           'g["counts"] = v["counts_sum_inv"] * g["probs"]'),
    # ------------------------------------------------------------------ assembly
    Mutant("assembly_running_unbiased", "assembly", "assembled_loss",
           "running statistics fed the unbiased batch variance (corrected twice)",
           "z1.var(axis=0), X.shape[0]",
           "z1.var(axis=0, ddof=1), X.shape[0]"),
)
