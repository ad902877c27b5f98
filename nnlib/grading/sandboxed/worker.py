"""The worker: the only process that runs student code while grading.

The judge (:mod:`nnlib.grading.judge.process`) starts it, inside a bubblewrap sandbox where one can
start, as::

    python -I -S worker.py CONFIG_JSON

with a copy of this file and of :mod:`nnlib.grading.sandboxed.protocol` (and its ``wire``
and ``codec``) beside it
(``nnlib`` itself is not importable here, nor pytest, the tests or the solutions).
``CONFIG_JSON`` gives the socket's file descriptor, the folder holding the private copy of
the submission, numpy's folder, and, when the judge runs as root, the unprivileged uid/gid
to switch to (in the chroot fallback the switch is made before it starts). The worker
switches user, sets its resource limits, imports numpy, says hello and then serves the
judge's requests one at a time:

``load``  compile and run ``<topic>.py``; reply with its functions and their signatures.
``call``  call one function with plain-data arguments; reply with its value (objects that
          are not plain data stay here, the judge gets a handle), what it changed in its
          arguments, and the new state of every ``np.random.Generator`` argument.
``grs``   a fingerprint of numpy's global random state.

Nothing this process says is trusted: the judge validates every reply, and points are only
ever given by the judge's own assertions.
"""

from __future__ import annotations

import json
import os
import sys


def _setup(cfg: dict) -> None:
    """Switch to the unprivileged user and set the resource limits (before any student code)."""
    import resource

    uid, gid = cfg.get("uid"), cfg.get("gid")
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise SystemExit("could not switch to the unprivileged user")
    for name, value in (cfg.get("limits") or {}).items():
        which = getattr(resource, f"RLIMIT_{name}")
        soft = hard = int(value)
        if name == "CPU":
            hard = soft + 5  # SIGXCPU at the soft limit, SIGKILL at the hard one
        current_hard = resource.getrlimit(which)[1]
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):  # not on this system (macOS and RLIMIT_AS): said in hello
            pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"


_PRELOAD = ("socket", "inspect", "traceback", "hashlib", "types", "resource", "warnings",
            "math", "typing", "collections", "collections.abc", "functools", "itertools",
            "dataclasses", "copy", "numbers", "operator", "zlib", "struct", "pickle", "random",
            "statistics", "fractions", "decimal", "numpy", "numpy.random", "numpy.linalg",
            "numpy.fft")
"""Imported before switching user: without a sandbox, the interpreter's own folder may not
be readable by the unprivileged user (a Python installed under /root)."""


def main() -> None:
    """Entry point: ``python -I -S worker.py CONFIG_JSON``."""
    import importlib

    cfg = json.loads(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    if cfg.get("numpy_path"):
        sys.path.append(cfg["numpy_path"])
    sys.argv[:] = ["worker"]
    for name in _PRELOAD:
        importlib.import_module(name)
    import protocol  # noqa: F401

    _setup(cfg)
    import socket

    sock = socket.socket(fileno=int(cfg["fd"]))
    worker = Worker(sock, cfg["folder"])
    worker.hello()
    worker.serve()
    os._exit(0)


# ------------------------------------------------------------------ the serving loop
_BUILTIN_ERRORS = {e.__name__: e for e in (ValueError, TypeError, ArithmeticError,
                                           ZeroDivisionError, IndexError, KeyError,
                                           AssertionError, RuntimeError, FloatingPointError)}


class _Failure(Exception):
    """A request that cannot be served (unknown topic, unsendable value, ...)."""


class Worker:
    """Serve the judge's requests on ``sock`` for the submission copy in ``folder``."""

    def __init__(self, sock, folder: str) -> None:
        import numpy as np
        import protocol

        self.np = np
        self.p = protocol
        self.sock = sock
        self.folder = folder
        self.read = protocol.blocking_reader(sock)
        self.modules: dict[str, object] = {}
        self.shown: set[str] = set()
        self.handles: dict[int, object] = {}
        self.next_handle = 1
        self.next_id = 1

    # ---------------------------------------------------------- messages
    def send(self, header: dict, buffers: list | None = None) -> None:
        """Send one message to the judge."""
        self.p.send_message(self.sock, header, buffers or [])

    def hello(self) -> None:
        """Tell the judge who we are and which limits are in force."""
        import resource

        limits = {}
        for name in ("AS", "CPU", "NPROC", "FSIZE", "NOFILE"):
            soft = resource.getrlimit(getattr(resource, f"RLIMIT_{name}"))[0]
            limits[name] = None if soft == resource.RLIM_INFINITY else soft
        try:
            import pytest  # noqa: F401

            has_pytest = True
        except ImportError:
            has_pytest = False
        self.send(self.p.hello({"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(),
                                "limits": limits, "numpy": self.np.__version__,
                                "pytest": has_pytest}))

    def serve(self) -> None:
        """Answer requests until the judge says bye or closes the connection."""
        while True:
            try:
                header, buffers = self.p.read_message(self.read)
            except self.p.Closed:
                return
            if self.p.kind(header) == self.p.BYE:
                return
            self.dispatch(header, buffers)

    def wait_reply(self, rid: int) -> tuple[dict, list]:
        """Wait for the judge's reply to our callback ``rid``, serving nested requests."""
        while True:
            header, buffers = self.p.read_message(self.read)
            if self.p.reply_to(header) == rid:
                return header, buffers
            if self.p.kind(header) is not None:
                self.dispatch(header, buffers)
            else:
                raise self.p.ProtocolError("unexpected reply")

    def dispatch(self, header: dict, buffers: list) -> None:
        """Answer one request."""
        for hid in header.get("rel") or ():
            self.handles.pop(hid, None)
        op, rid = self.p.kind(header), header.get("id")
        try:
            if op == self.p.LOAD:
                self.send(self.p.ok(rid, self.load(header["topic"], header["shown"])))
            elif op == self.p.CALL:
                self.call(rid, header, buffers)
            elif op == self.p.GLOBAL_STATE:
                self.send(self.p.ok(rid, self.global_state()))
            else:
                raise _Failure(f"unknown request {header.get('op')!r}")
        except BaseException as e:  # noqa: BLE001 - whatever student code raised
            self.send(self.p.error(rid, self.describe(e)))

    # ---------------------------------------------------------- errors
    def describe(self, e: BaseException) -> dict:
        """Type, message and student-file frames of an exception, as plain data."""
        import traceback

        try:
            text = str(e)
        except BaseException:  # noqa: BLE001
            text = "(the exception's message could not be printed)"
        where = []
        try:
            for fr in traceback.extract_tb(e.__traceback__):
                if fr.filename in self.shown:
                    where.append([fr.filename, fr.lineno or 0, fr.name])
            if isinstance(e, SyntaxError) and e.filename in self.shown:
                where.append([e.filename, e.lineno or 0, "<module>"])
                text = e.msg
        except BaseException:  # noqa: BLE001
            pass
        info = {"type": type(e).__name__, "msg": text[:2000], "where": where[-5:]}
        if isinstance(e, SystemExit):
            info["code"] = repr(e.code)[:100]
        if isinstance(e, _Failure):
            info["type"] = "WorkerError"
        return info

    # ---------------------------------------------------------- requests
    def load(self, topic: str, shown: str) -> dict:
        """Compile and run ``<topic>.py`` as a fresh module; list its functions."""
        import inspect
        import types

        if not (isinstance(topic, str) and topic.isidentifier()):
            raise _Failure("bad topic")
        path = os.path.join(self.folder, f"{topic}.py")
        with open(path, "rb") as f:
            source = f.read()
        self.shown.add(shown)
        code = compile(source, shown, "exec", dont_inherit=True)
        name = f"nnlib_impl_{topic}"
        module = types.ModuleType(name)
        module.__file__ = shown
        sys.modules[name] = module
        self.modules[topic] = module
        exec(code, module.__dict__)
        functions = {}
        for key, value in list(vars(module).items())[:2000]:
            if key.startswith("_") or not callable(value):
                continue
            params = None
            try:
                params = [[p.name, int(p.kind),
                           None if p.default is p.empty else repr(p.default)[:100]]
                          for p in inspect.signature(value).parameters.values()]
            except BaseException:  # noqa: BLE001
                params = None
            functions[key] = params
        return {"functions": functions}

    def global_state(self) -> list:
        """A fingerprint of numpy's legacy global random state."""
        import hashlib

        name, key, pos, has_gauss, cached = self.np.random.get_state()  # noqa: NPY002
        return [str(name), hashlib.sha256(key.tobytes()).hexdigest(), int(pos),
                int(has_gauss), float(cached)]

    def _special(self, node: dict, dec) -> object:
        np = self.np
        if "$h" in node:
            hid = node["$h"]
            if hid not in self.handles:
                raise _Failure("a value this worker no longer holds was sent back")
            return self.handles[hid]
        if "$cb" in node:
            return self._callback(node["$cb"], str(node.get("name", "f")))
        if "$rng" in node:
            state = dec.decode(node["$rng"], 1)
            kind = state.get("bit_generator") if isinstance(state, dict) else None
            if kind not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
                raise _Failure("unknown bit generator")
            bg = getattr(np.random, kind)()
            bg.state = state
            gen = np.random.Generator(bg)
            return dec._number(node, gen)
        raise _Failure("unexpected value")

    def _callback(self, cid: int, name: str):
        worker = self

        def callback(*args, **kwargs):
            rid = worker.next_id
            worker.next_id += 1
            enc = worker.p.Encoder(other=worker._keep)
            header = worker.p.callback(rid, cid, enc.encode(args), enc.encode(kwargs))
            worker.send(header, enc.buffers)
            reply, buffers = worker.wait_reply(rid)
            if "err" in reply:
                err = reply["err"] if isinstance(reply["err"], dict) else {}
                kind = _BUILTIN_ERRORS.get(err.get("type"), RuntimeError)
                raise kind(str(err.get("msg", "")))
            return worker.p.Decoder(buffers, special=worker._special).decode(reply.get("ok"))

        callback.__name__ = callback.__qualname__ = name if name.isidentifier() else "f"
        return callback

    def _keep(self, value: object, enc) -> dict:
        """Keep a value that is not plain data here; the judge gets a handle to it."""
        hid = self.next_handle
        self.next_handle += 1
        self.handles[hid] = value
        return {"$h": hid, "ty": type(value).__name__[:60]}

    def call(self, rid: int, header: dict, buffers: list) -> None:
        """Call one student function and reply with its value and what it changed."""
        import warnings

        np = self.np
        topic, fn_name = header.get("topic"), header.get("fn")
        module = self.modules.get(topic)
        if module is None:
            raise _Failure(f"{topic} is not loaded")
        fn = vars(module).get(fn_name)
        if fn is None or not callable(fn):
            raise _Failure(f"{fn_name} is not a function of {topic}")
        dec = self.p.Decoder(buffers, special=self._special, layouts=True)
        args = dec.decode(header.get("args"))
        kwargs = dec.decode(header.get("kw"))
        if type(args) is not tuple or type(kwargs) is not dict:
            raise _Failure("bad arguments")
        before = {}
        for k, obj in dec.objects.items():
            if isinstance(obj, np.ndarray):
                before[k] = (obj.shape, obj.dtype, obj.tobytes())
            elif isinstance(obj, list):
                before[k] = [id(x) for x in obj]
            elif isinstance(obj, dict):
                before[k] = [(key, id(x)) for key, x in obj.items()]
        # as under the judge's pytest: every warning is an error, whatever the module set
        warnings.resetwarnings()
        warnings.simplefilter("error")
        np.seterr(divide="warn", over="warn", invalid="warn", under="ignore")
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001
            self.send(self.p.error(rid, self.describe(e)))
            return
        originals = {id(obj): (k, obj) for k, obj in dec.objects.items()
                     if isinstance(obj, (np.ndarray, list, dict))}
        enc = self.p.Encoder(other=self._keep, originals=originals)
        mutations, rngs = [], []
        try:
            for k, obj in dec.objects.items():
                if isinstance(obj, np.ndarray):
                    shape, dtype, data = before[k]
                    if obj.shape != shape or obj.dtype != dtype or obj.tobytes() != data:
                        mutations.append([k, enc.array(obj)])
            for k, obj in dec.objects.items():
                if isinstance(obj, list) and [id(x) for x in obj] != before[k]:
                    mutations.append([k, {"$l": [enc.encode(x, 1) for x in obj]}])
                elif isinstance(obj, dict) and [(key, id(x)) for key, x in obj.items()] \
                        != before[k]:
                    mutations.append([k, {"$d": [[key, enc.encode(x, 1)]
                                                 for key, x in obj.items()]}])
                elif isinstance(obj, np.random.Generator):
                    rngs.append([k, enc.encode(obj.bit_generator.state, 1)])
            value = enc.encode(result)
        except BaseException as e:  # noqa: BLE001
            info = self.describe(e)
            info["unsendable"] = 1
            self.send(self.p.error(rid, info))
            return
        self.send(self.p.ok(rid, value, mutations, rngs), enc.buffers)


if __name__ == "__main__":
    main()
