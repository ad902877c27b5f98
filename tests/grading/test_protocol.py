"""The wire format: every encoder has its decoder, every message builder its reader."""

from __future__ import annotations

import numpy as np
import pytest

from nnlib.grading.sandboxed import protocol


def _round_trip(value, layouts=False):
    enc = protocol.Encoder(number=True)
    node = enc.encode(value)
    dec = protocol.Decoder([bytearray(b) for b in enc.buffers], layouts=layouts)
    return dec.decode(node)


VALUES = [
    None, True, 0, -3, 2.5, float("inf"), 1 + 2j, "text",
    np.float32(1.5), np.int64(7), np.bool_(True),
    np.arange(6.0).reshape(2, 3), np.ones((2, 3), dtype=np.float32), np.zeros(0),
    np.array([[1, 2], [3, 4]], dtype=np.int8), np.array(3.0),
    (1, (2.0, "x")), [np.arange(3), [4, 5]], {"a": np.eye(2), 3: [None], None: (1,)},
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_plain_data_comes_back_as_it_went(value):
    got = _round_trip(value)
    assert type(got) is type(value), (type(got), type(value))  # np.float32 stays np.float32
    if isinstance(value, np.ndarray):
        assert got.dtype == value.dtype and got.shape == value.shape
        np.testing.assert_array_equal(got, value)
    elif isinstance(value, (dict, list, tuple)):
        assert repr(got) == repr(value)
    else:
        assert got == value or (got != got and value != value)


def test_layouts_and_read_only_flags_come_back_where_asked():
    base = np.arange(24.0).reshape(4, 6)
    for a in (base.T, base[:, ::2], np.asfortranarray(base)):
        got = _round_trip(a, layouts=True)
        assert protocol.layout_of(got) == protocol.layout_of(a)
        np.testing.assert_array_equal(got, a)
    ro = np.arange(3.0)
    ro.flags.writeable = False
    assert not _round_trip(ro, layouts=True).flags.writeable


def test_what_is_not_plain_data_needs_a_hook():
    with pytest.raises(TypeError):
        protocol.Encoder().encode(object())
    with pytest.raises(protocol.ProtocolError):
        protocol.Decoder([]).decode({"$h": 1})


@pytest.mark.parametrize("header", [
    protocol.hello({"pid": 1}), protocol.load_request("dense", "dense.py"),
    protocol.call_request("dense", "dense_forward", {"$t": []}, {"$d": []}),
    protocol.state_request(), protocol.bye(), protocol.callback(5, 2, {"$t": []}, {"$d": []}),
    protocol.ok(3, 1.0), protocol.ok(3, None, [], []), protocol.error(3, {"type": "X"}),
])
def test_every_message_survives_the_wire(header):
    buffers = [np.arange(4, dtype=np.uint8)]
    data = b"".join(bytes(c) for c in protocol.frame(header, buffers))
    pos = [0]

    def read_exact(n):
        chunk = data[pos[0]:pos[0] + n]
        pos[0] += n
        return bytearray(chunk)

    got, bufs = protocol.read_message(read_exact)
    assert got == header and [bytes(b) for b in bufs] == [bytes(range(4))]
    kind = protocol.kind(got)
    assert kind == got.get("op") or (kind is None and "op" not in got)
    assert protocol.reply_to(got) == got.get("re")
