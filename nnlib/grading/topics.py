"""The exercise topics, their graded functions, and the notebooks that teach them."""

from __future__ import annotations

TOPICS: dict[str, tuple[str, ...]] = {
    "gradients": ("numerical_gradient",),
    "activations": (
        "sigmoid_forward", "sigmoid_backward", "relu_forward", "relu_backward",
        "tanh_forward", "tanh_backward",
    ),
    "dense": ("dense_forward", "dense_backward"),
    "initialization": ("small_init", "xavier_init", "he_init"),
    "losses": ("mse_loss", "binary_cross_entropy_with_logits", "softmax_cross_entropy"),
    "network": ("network_forward", "network_backward", "sgd_step"),
    "batchnorm": (
        "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_fast",
        "batchnorm_inference", "running_stats_update",
    ),
    "dropout": ("dropout_forward", "dropout_backward"),
    "layernorm": ("layernorm_forward", "layernorm_backward"),
    "adam": ("adam_update",),
}
"""Topic (file ``exercises/<topic>.py``) -> the functions graded in it, in teaching order."""

NOTEBOOKS: dict[str, str] = {
    "gradients": "01_chain_rule",
    "activations": "02_dense_forward",
    "dense": "02_dense_forward",
    "initialization": "04_training",
    "losses": "03_backpropagation",
    "network": "03_backpropagation",
    "batchnorm": "05_batch_normalization",
    "dropout": "06_batchnorm_in_networks",
    "layernorm": "06_batchnorm_in_networks",
    "adam": "04_training",
}
"""Topic -> the notebook where its exercise is introduced."""


def topic_of(function: str) -> str:
    """Return the topic whose file holds ``function``; raise KeyError if none does."""
    for topic, functions in TOPICS.items():
        if function in functions:
            return topic
    raise KeyError(function)
