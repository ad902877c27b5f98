"""The exercise registry: every graded function, once, with what the rest of nnlib needs.

Adding an exercise function means its solution (``solutions/<topic>.py``), its tests
(``tests/public`` and ``tests/hidden``) and one :class:`Exercise` entry here. Everything
else comes from this list or is checked against it:

- :data:`TOPICS`, :data:`NOTEBOOKS` and :func:`topic_of` (the grader, ``check()``, the
  release and the stubs);
- the shape an output should have, for the hints of shape errors
  (:data:`nnlib.grading.judge.feedback.EXPECTED_SHAPES`);
- which of the student's layer classes and losses call the function
  (:data:`nnlib.course.student_layers.REQUIRES`);
- the exercise table of ``docs/grading.md`` (``tests/grading/test_registry.py`` compares);
- the tests and the mutants (every test names a registered function; every mutant patches
  one).

A shape rule is declarative: ``("same", i, name)`` (the output ``name`` has the shape of
argument ``i``), ``("dense", "z")`` (``(x.shape[0], W.shape[0])``) or ``("fan", "W")``
(``(fan_out, fan_in)``, the first two arguments).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Exercise", "EXERCISES", "TOPICS", "NOTEBOOKS", "topic_of", "exercise", "Mistake",
           "MISTAKES", "mistake", "mistakes_of"]


@dataclass(frozen=True)
class Exercise:
    """One graded function of an exercise file.

    Attributes
    ----------
    function : str
        Its name, in ``exercises/<topic>.py``.
    topic : str
        The file (and check topic) that holds it.
    notebook : str
        The notebook that teaches it (stem of ``course/<notebook>.ipynb``).
    shape : tuple, optional
        How its main output's shape follows from its arguments (see the module docstring).
    used_by : tuple of str
        The classes and losses of ``student_layers()`` that call it.
    """

    function: str
    topic: str
    notebook: str
    shape: tuple = ()
    used_by: tuple[str, ...] = ()


_OUT = ("same", 0, "out")
_DX = ("same", 0, "dx")
_GRAD = ("same", 0, "the gradient")

EXERCISES: tuple[Exercise, ...] = (
    Exercise("numerical_gradient", "gradients", "01_chain_rule", ("same", 1, "grad")),
    Exercise("add_local", "engine", "01_chain_rule"),
    Exercise("mul_local", "engine", "01_chain_rule"),
    Exercise("tanh_local", "engine", "01_chain_rule"),
    Exercise("exp_local", "engine", "01_chain_rule"),
    Exercise("pow_local", "engine", "01_chain_rule"),
    Exercise("topological_order", "engine", "01_chain_rule"),
    Exercise("backward", "engine", "01_chain_rule"),
    Exercise("sigmoid_forward", "activations", "02_dense_forward", _OUT, ("Sigmoid",)),
    Exercise("sigmoid_backward", "activations", "02_dense_forward", _DX, ("Sigmoid",)),
    Exercise("relu_forward", "activations", "02_dense_forward", _OUT, ("ReLU",)),
    Exercise("relu_backward", "activations", "02_dense_forward", _DX, ("ReLU",)),
    Exercise("tanh_forward", "activations", "02_dense_forward", _OUT, ("Tanh",)),
    Exercise("tanh_backward", "activations", "02_dense_forward", _DX, ("Tanh",)),
    Exercise("dense_forward", "dense", "02_dense_forward", ("dense", "z"), ("Dense",)),
    Exercise("dense_backward", "dense", "04_network_backward", (), ("Dense",)),
    Exercise("small_init", "initialization", "05_training", ("fan", "W")),
    Exercise("xavier_init", "initialization", "05_training", ("fan", "W")),
    Exercise("he_init", "initialization", "05_training", ("fan", "W")),
    Exercise("mse_loss", "losses", "03_backpropagation", _GRAD, ("mse_loss",)),
    Exercise("binary_cross_entropy_with_logits", "losses", "03_backpropagation", _GRAD,
             ("binary_cross_entropy_with_logits",)),
    Exercise("softmax_cross_entropy", "losses", "03_backpropagation", _GRAD,
             ("softmax_cross_entropy",)),
    Exercise("network_forward", "network", "04_network_backward"),
    Exercise("network_backward", "network", "04_network_backward"),
    Exercise("sgd_step", "network", "05_training"),
    Exercise("batchnorm_forward", "batchnorm", "07_batchnorm_forward", _OUT,
             ("BatchNorm",)),
    Exercise("batchnorm_backward", "batchnorm", "07_batchnorm_forward"),
    Exercise("batchnorm_backward_fast", "batchnorm", "08_batchnorm_backward", (),
             ("BatchNorm",)),
    Exercise("intermediate_grads", "intermediates", "08_batchnorm_backward"),
    Exercise("batchnorm_inference", "batchnorm", "09_batchnorm_inference", _OUT,
             ("BatchNorm",)),
    Exercise("running_stats_update", "batchnorm", "09_batchnorm_inference", (),
             ("BatchNorm",)),
    Exercise("dropout_forward", "dropout", "10_dropout_layernorm", _OUT, ("Dropout",)),
    Exercise("dropout_backward", "dropout", "10_dropout_layernorm", _DX, ("Dropout",)),
    Exercise("layernorm_forward", "layernorm", "10_dropout_layernorm", _OUT,
             ("LayerNorm",)),
    Exercise("layernorm_backward", "layernorm", "10_dropout_layernorm", (),
             ("LayerNorm",)),
    Exercise("adam_update", "adam", "06_optimizers", ("same", 0, "w")),
    Exercise("assembled_loss", "assembly", "11_assemble_network"),
    Exercise("assembled_predict", "assembly", "11_assemble_network"),
)
"""Every graded function, in teaching order within its topic; topics in grading order."""


def _topics() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for e in EXERCISES:
        out.setdefault(e.topic, []).append(e.function)
    return {t: tuple(fs) for t, fs in out.items()}


TOPICS: dict[str, tuple[str, ...]] = _topics()
"""Topic (file ``exercises/<topic>.py``) -> the functions graded in it, in teaching order."""

NOTEBOOKS: dict[str, str] = {t: next(e.notebook for e in EXERCISES if e.topic == t)
                             for t in TOPICS}
"""Topic -> the notebook where its exercise is introduced (its first function's)."""

_BY_NAME = {e.function: e for e in EXERCISES}


def exercise(function: str) -> Exercise:
    """The registry entry of ``function``; raise KeyError if it is not an exercise."""
    return _BY_NAME[function]


def topic_of(function: str) -> str:
    """Return the topic whose file holds ``function``; raise KeyError if none does."""
    return _BY_NAME[function].topic


@dataclass(frozen=True)
class Mistake:
    """A misconception students really have, recognised from a function's output.

    The judge computes the output this mistake would give, from the reference, on a failing
    test's own inputs (:mod:`nnlib.grading.judge.diagnosis`); when the student's output is
    that one and not the right one, the feedback names the mistake.

    Attributes
    ----------
    id : str
        Stable identifier (results.json carries it as ``extra_data.mistake``).
    functions : tuple of str
        The exercise functions where it is recognised.
    name : str
        What the student's output shows, in one line, to follow "your ...".
    fix : str
        The fix, in one line.
    section : str
        Words of the heading of the section that teaches the right idea, in the notebook
        of the first function (``tests/grading/test_diagnosis.py`` checks that it exists).
    """

    id: str
    functions: tuple[str, ...]
    name: str
    fix: str
    section: str

    @property
    def notebook(self) -> str:
        """The notebook that teaches the right idea (the first function's)."""
        return exercise(self.functions[0]).notebook

    def text(self) -> str:
        """The diagnosis as the student reads it."""
        return (f"Your {self.name} (the known mistake '{self.id}'). Fix: {self.fix}. "
                f"See {self.notebook}, section \"{self.section}\".")


def _m(id: str, functions: str, name: str, fix: str, section: str) -> Mistake:
    return Mistake(id, tuple(functions.split()), name, fix, section)


MISTAKES: tuple[Mistake, ...] = (
    _m("numgrad_forward_difference", "numerical_gradient",
       "gradient is a one-sided difference (f(x + h) - f(x)) / h",
       "use the centered difference (f(x + h) - f(x - h)) / (2h)",
       "Checking gradients numerically"),
    _m("sigmoid_backward_uses_input", "sigmoid_backward",
       "dx uses the derivative s(1 - s) with s = x, the input, instead of s = sigma(x)",
       "evaluate s = sigma(x) (keep it in the cache) and use dout * s * (1 - s)",
       "Activation functions and their derivatives"),
    _m("tanh_backward_wrong_derivative", "tanh_backward",
       "dx uses 1 - x**2 (the input) or 1 - tanh(x) (no square) as the derivative",
       "the derivative is 1 - t**2 with t = tanh(x), the forward's output",
       "Activation functions and their derivatives"),
    _m("relu_backward_mask_from_dout", "relu_backward",
       "dx passes the gradient where dout > 0, instead of where the input x > 0",
       "gate dout with the forward's input: dout * (x > 0)",
       "Activation functions and their derivatives"),
    _m("dense_forward_no_bias", "dense_forward",
       "z leaves out the bias b",
       "z = x @ W.T + b (b broadcasts over the rows)",
       "A batch"),
    _m("dense_db_mean", "dense_backward",
       "db is averaged over the batch instead of summed",
       "db = dz.sum(axis=0): the loss's own 1/N is already in dz",
       "The batched backward pass"),
    _m("dense_dW_transposed", "dense_backward",
       "dW has shape (in, out): x.T @ dz is the transpose of the gradient",
       "dW = dz.T @ x has W's shape (out, in)",
       "The batched backward pass"),
    _m("mse_no_factor_two", "mse_loss",
       "gradient misses the factor 2 of d(d**2)/dd",
       "the gradient is 2 * (pred - target) / pred.size",
       "Exercise: the losses"),
    _m("softmax_grad_not_divided_by_n", "softmax_cross_entropy",
       "dlogits is not divided by the batch size N",
       "the loss is a mean over the N rows, so dlogits = (p - onehot) / N",
       "Exercise: the losses"),
    _m("softmax_clamped_probability", "softmax_cross_entropy",
       "loss clips the probabilities (e.g. to 1e-10) before the log, so a confident "
       "mistake costs far less than it should",
       "use log-sum-exp: the loss of a confident mistake is large, and must stay so",
       "Exercise: the losses"),
    _m("network_activation_on_output", "network_forward",
       "logits went through the ReLU too: the last layer's output must stay linear",
       "apply ReLU after every layer except the last",
       "The batched backward pass"),
    _m("network_backward_no_relu_derivative", "network_backward",
       "gradients skip the hidden ReLU's derivative",
       "multiply by (z > 0) of that layer when going back through each hidden ReLU",
       "The batched backward pass"),
    _m("bn_unbiased_variance", "batchnorm_forward",
       "forward normalizes with the unbiased batch variance (divided by N - 1)",
       "normalize with the biased variance, mean((x - mu)**2) over the batch",
       "The transform"),
    _m("bn_eps_outside_sqrt", "batchnorm_forward batchnorm_inference",
       "output divides by sqrt(var) + eps instead of sqrt(var + eps)",
       "eps goes inside the square root: (x - mu) / sqrt(var + eps)",
       "Why ε matters"),
    _m("bn_wrong_axis", "batchnorm_forward",
       "statistics are taken over axis 1 (each example's features) instead of the batch",
       "mean and variance over axis 0, one per feature",
       "The transform"),
    _m("bn_backward_missing_dmu", "batchnorm_backward batchnorm_backward_fast",
       "dx is what you get without the path through the mean mu",
       "add the gradient that flows through mu (the sum of dout over the batch term)",
       "The backward pass, stage by stage"),
    _m("bn_backward_missing_dvar", "batchnorm_backward batchnorm_backward_fast",
       "dx is what you get without the path through the variance",
       "add the gradient that flows through var (the xhat * sum(dout * xhat) term)",
       "The backward pass, stage by stage"),
    _m("bn_inference_batch_stats", "batchnorm_inference",
       "inference normalizes with the batch's own statistics instead of the running ones",
       "use running_mean and running_var: each example's output must not depend on the "
       "others",
       "Training versus inference"),
    _m("bn_inference_no_affine", "batchnorm_inference",
       "inference output leaves out gamma and beta",
       "scale by gamma and shift by beta after normalizing, as in training",
       "Training versus inference"),
    _m("running_momentum_swapped", "running_stats_update",
       "update weights the old value by momentum (Keras's meaning of momentum)",
       "new = (1 - momentum) * old + momentum * batch: momentum is the new batch's weight",
       "PyTorch and Keras, measured"),
    _m("running_var_biased", "running_stats_update",
       "running variance stores the biased batch variance",
       "store the unbiased variance: batch_var * n / (n - 1)",
       "PyTorch and Keras, measured"),
    _m("dropout_no_rescale", "dropout_forward",
       "kept values are not divided by 1 - p",
       "inverted dropout divides the kept values by 1 - p, so the expectation is unchanged",
       "Dropout"),
    _m("dropout_keep_drop_confusion", "dropout_forward",
       "mask uses p as the probability of keeping a unit",
       "p is the probability of dropping: keep where rng.random(x.shape) >= p",
       "Dropout"),
    _m("dropout_mask_per_column", "dropout_forward",
       "mask is one draw per feature (or per example) shared across the other axis",
       "draw one independent number per entry: rng.random(x.shape)",
       "Dropout"),
    _m("dropout_backward_new_mask", "dropout_backward",
       "backward draws a new mask instead of reusing the forward's",
       "keep the forward's mask in the cache and multiply dout by it",
       "Dropout"),
    _m("ln_wrong_axis", "layernorm_forward",
       "statistics are taken over the batch axis (like batch norm)",
       "mean and variance over axis 1: each example is normalized over its own features",
       "A relative: layer normalization"),
    _m("ln_backward_wrong_axis", "layernorm_backward",
       "backward sums over the wrong axis",
       "dx's mean terms are over the features (axis 1); dgamma and dbeta sum over the "
       "batch (axis 0)",
       "A relative: layer normalization"),
    _m("adam_no_bias_correction", "adam_update",
       "update uses m and v without the bias correction",
       "m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t)",
       "Optimizers"),
    _m("adam_bias_correction_without_t", "adam_update",
       "bias correction divides by 1 - beta instead of 1 - beta**t",
       "the correction depends on the step: 1 - beta1**t and 1 - beta2**t",
       "Optimizers"),
    _m("adam_eps_inside_sqrt", "adam_update",
       "update divides by sqrt(v_hat + eps) instead of sqrt(v_hat) + eps",
       "eps goes outside the square root: m_hat / (sqrt(v_hat) + eps)",
       "Optimizers"),
    _m("xavier_fan_in_only", "xavier_init",
       "weights have std sqrt(1 / fan_in) (LeCun's), not Xavier's",
       "Xavier's std is sqrt(2 / (fan_in + fan_out))",
       "Initialization"),
    _m("he_fan_out", "he_init",
       "weights have std sqrt(2 / fan_out)",
       "He's std is sqrt(2 / fan_in): it keeps the forward signal's scale",
       "Initialization"),
)
"""The catalogue of named mistakes: each id is fixed once published."""

_MISTAKE_BY_ID = {m.id: m for m in MISTAKES}


def mistake(id: str) -> Mistake:
    """The catalogue entry ``id``; raise KeyError if there is none."""
    return _MISTAKE_BY_ID[id]


def mistakes_of(function: str) -> tuple[Mistake, ...]:
    """The catalogued mistakes recognised in ``function``'s output."""
    return tuple(m for m in MISTAKES if function in m.functions)
