"""The judge's own bounds: what the worker sends cannot stretch a deadline, grow the
judge's memory, or get a reply it was not owed; and data arrives with its values."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from nnlib.grading.grader.grade import grade
from nnlib.grading.impl import forbidden_imports
from nnlib.grading.judge import remote as judge
from nnlib.grading.judge import replies
from nnlib.grading.sandboxed import protocol

from .conftest import make_submission


def test_a_big_endian_array_arrives_with_its_values():
    for dtype in (">f8", ">f4", ">i4", "<f8", "|b1"):
        sent = np.array([[0.5, -2.0, 3.0]]).astype(dtype)
        enc = protocol.Encoder()
        node = enc.encode(sent)
        got = protocol.Decoder([bytearray(b) for b in enc.buffers]).decode(node)
        np.testing.assert_array_equal(got, sent)
        assert got.dtype.isnative and got.dtype == sent.dtype.newbyteorder("=")


def test_a_coding_cookie_does_not_hide_an_import(tmp_path):
    f = tmp_path / "dense.py"
    f.write_bytes("# -*- coding: latin-1 -*-\n# caf\u00e9\nimport nnlib\n".encode("latin-1"))
    assert forbidden_imports(f) == ["line 3 imports nnlib"]


def test_the_judge_makes_a_bounded_number_of_handle_classes(monkeypatch):
    monkeypatch.setattr(judge, "_handle_types", {})
    classes = {judge._handle_class(f"Name{i}") for i in range(5000)}
    assert len(judge._handle_types) <= judge.MAX_HANDLE_TYPES
    assert len(classes) <= judge.MAX_HANDLE_TYPES
    assert judge._handle_class("Name1").__name__ == "Name1"
    assert judge._handle_class("Name4999").__name__ == "object"


FLOOD = '''
import gc as _gc
import threading as _threading


def _flood():
    """Find the worker's connection; pipeline callback frames at the judge, unpaused."""
    worker = next((o for o in _gc.get_objects() if type(o).__name__ == "Worker"
                   and hasattr(o, "sock") and hasattr(o, "p")), None)
    if worker is None:
        return
    args, kw = worker.p.Encoder().encode(()), worker.p.Encoder().encode({{}})

    def run():
        i = 10 ** 6
        while True:
            i += 1
            try:
                worker.p.send_message(worker.sock, {{"op": "cb", "id": i, "cb": {cb},
                                                     "args": args, "kw": kw}}, [])
            except Exception:
                return

    def drain():  # read the judge's replies, so that its writes never block either
        while True:
            try:
                if not worker.sock.recv(1 << 20):
                    return
            except Exception:
                return

    _threading.Thread(target=run, daemon=True).start()
    _threading.Thread(target=drain, daemon=True).start()


_flood()
'''


@pytest.mark.parametrize("cb", [1, 999])
def test_a_worker_flooding_the_judge_with_callbacks_gets_nothing_and_no_time(tmp_path, cb):
    """Callbacks the running call was not given (999), or a flood of one it was (1, during
    numerical_gradient): the judge stops the worker within the test's own limit."""
    sub = make_submission(tmp_path / "flood")
    src = (sub / "gradients.py").read_text()
    (sub / "gradients.py").write_text(src + textwrap.dedent(FLOOD.format(cb=cb)))
    g = grade(sub, topics=["gradients"], timeout=2.0, hidden=True)
    assert g.score == 0, [(r["name"], r["status"]) for r in g.records]
    messages = {r["message"] for r in g.records}
    assert all("could not be read" in m or "did not finish" in m or "waiting" in m
               or "restarted" in m for m in messages), messages
    # each test is stopped by its own limit (a stall used to hold the judge for minutes)
    assert g.seconds < 2.0 * len(g.records) + 30


def _called_back(values, cid, *args):
    """The judge's reply when the worker calls callback ``cid`` with ``args``."""
    enc = protocol.Encoder()
    header = {"op": "cb", "id": 7, "cb": cid, "args": enc.encode(args), "kw": enc.encode({})}
    reply, _ = values.answer_callback(header, [bytearray(b) for b in enc.buffers])
    return reply


def test_callbacks_compute_only_on_arrays_as_large_as_their_call_received():
    """The layers handed to assembled_loss run in the judge: a worker calling them with
    arrays of its own choosing (a 25000 x 25000 product is 5 GB) is refused before any
    computing; arrays of the call's own sizes, and a cache of several, are served."""
    values = judge.Values(lambda: 0)
    computed = []

    def dense(x, W):
        computed.append(np.shape(x))
        return np.asarray(x) @ np.asarray(W).T

    def dense_backward(dout, cache):
        return dout @ cache[1]

    forward = values.encoder().encode(dense)["$cb"]
    backward = values.encoder().encode(dense_backward)["$cb"]
    X, W1 = np.ones((20, 9)), np.ones((6, 9))
    values.limit_callbacks((X, {"W1": W1}, {"dense": dense}), {})
    assert "ok" in _called_back(values, forward, X, W1) and computed == [(20, 9)]
    cache = (X, W1, *(np.ones(6) for _ in range(5)))  # a cache of seven arrays
    assert "ok" in _called_back(values, backward, np.ones((20, 6)), cache)
    for x, w in [(np.ones((25000, 1)), np.ones((25000, 1))),     # longer than any
                 (np.ones((2, 2, 2)), np.ones((2, 2))),          # more dimensions
                 ([[1.0]] * 25000, [[1.0]] * 25000)]:            # as lists
        reply = _called_back(values, forward, x, w)
        assert reply["err"]["type"] == "ValueError", reply
        assert "accept arrays of at most 2 dimensions of at most 20 each" in reply["err"]["msg"]
    assert computed == [(20, 9)]


def test_the_extent_of_what_the_worker_sends_is_found_once_per_object():
    shared: list = [np.ones((3, 4))]
    for _ in range(64):  # 2**64 paths to the array, 65 lists
        shared = [shared, shared]
    assert judge.extent(shared) == (2, 4, 12 * 2.0**64)  # 65 lists looked at, 2**64 arrays
    loop: list = [np.ones(5)]
    loop.append(loop)
    assert judge.extent({"a": loop, "b": (1, 2, 3)}) == (1, 5, np.inf)


def test_lists_that_repeat_a_list_are_as_large_as_numpy_would_make_them():
    """Sixteen references to one list, six deep, are a few bytes on the wire and an array
    of 4 * 16**6 numbers in the judge (numpy's sin of it took about 1 GB there)."""
    values = judge.Values(lambda: 0)
    values.limit_callbacks((lambda v: v, np.ones((3, 4))), {})
    nested: list = [1.0] * 4
    for _ in range(6):
        nested = [nested] * 16
    assert "67108864 numbers" in values._too_large("f", (nested,), {})
    assert values._too_large("f", (np.ones((3, 4)),), {}) == ""
    assert values._too_large("f", ([np.ones((3, 4))] * 7,), {}) == ""  # a cache of arrays


def test_an_exit_code_reaches_the_feedback_as_one_line_of_printable_text():
    err = {"type": "SystemExit", "msg": "", "code": "0)\x1b[2J\x1b[H\n\nScore: 210 / 210\ud800"}
    message = replies.student_error("dense_backward", err, {}, []).message
    assert "\x1b" not in message and "\ud800" not in message and "\n" not in message
    assert message.startswith("dense_backward called sys.exit(0)?[2J?[H Score: 210 / 210?)")
    message.encode("utf-8")
