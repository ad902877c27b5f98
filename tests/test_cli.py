"""The command line: help for every option, and a quiet end when the reader goes away."""

import argparse
import subprocess
import sys

import pytest

from nnlib.__main__ import build_parser


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_option_has_help_text(name):
    sub = _subcommands()[name]
    missing = [a.dest for a in sub._actions
               if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert not missing, f"nnlib {name}: options without help text: {missing}"


def test_a_closed_pipe_ends_quietly(tmp_path):
    # `python -m nnlib experiment ... | head -0`: the reader is gone before anything is printed
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnlib", "experiment", "lr", "--steps", "1", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()[-2000:]
    assert proc.returncode == 141
