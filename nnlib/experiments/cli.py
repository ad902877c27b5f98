"""``nnlib experiment`` (placeholder)."""

import argparse


def register(sub: "argparse._SubParsersAction") -> None:
    """Register the experiment sub-commands (none yet)."""
