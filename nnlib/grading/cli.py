"""``nnlib grade`` and ``nnlib release`` (placeholder)."""

import argparse


def register(sub: "argparse._SubParsersAction") -> None:
    """Register the grading sub-commands (none yet)."""
