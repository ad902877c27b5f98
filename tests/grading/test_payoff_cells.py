"""The payoff cells work with the reference solutions.

The committed notebooks store what a student sees before writing the exercises (their
kernels run on fresh stubs), so the cells that train a network with the student's own
layers (``student_layers()``) store only "write these functions first". Here the notebook
runs up to each such cell with ``NNLIB_IMPL=solutions``: with correct exercises, the cell
trains and every claim it prints holds. The notebooks run one after another, each in a
kernel of its own, from one process.

The kernel runs the payoff cells and only the cells they depend on (:func:`payoff_slice`):
going backwards from the last payoff cell, a cell is kept when it binds a name that a cell
kept after it reads, or changes such a name's object in place (``net.eval()``,
``X[0] = ...``, ``rng.normal()``). The other cells (the library's own experiments, figures,
the sweeps) cannot change what a payoff cell computes, and nbval runs every cell of every
notebook anyway. A cell that changes a kept object only by handing it to a function
(``fit(net, ...)``) without binding a name is not seen: keep such a call in the cell that
binds the object, or give it a name.
"""

import ast
import json
import re

import nbformat
import pytest

from .conftest import ROOT, clean_env, run

RUNNER = """
import json, pathlib, sys
import nbformat
from nbclient import NotebookClient
for name, keep in json.loads(sys.argv[1]):   # the payoff cells and the cells they depend on
    path = pathlib.Path(name)
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if c.cell_type == "code"]
    nb.cells = [nb.cells[i] for i in keep]
    print("=== notebook", path.name)
    NotebookClient(nb, timeout=300, kernel_name="python3",   # a fresh kernel per notebook
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                print("ERROR", out.ename, out.evalue)
        if cell.cell_type == "code" and "student_layers(" in cell.source:
            print("=== payoff cell")
            print("".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout"))
"""

PAYOFF_NOTEBOOKS = sorted(
    p.name for p in (ROOT / "course").glob("*.ipynb")
    if any(c.cell_type == "code" and "student_layers(" in c.source
           for c in nbformat.read(p, as_version=4).cells))


@pytest.fixture(scope="module")
def payoff_runs() -> dict[str, str]:
    """What each payoff notebook's slice printed, run with the solutions: every notebook in
    a kernel of its own, all from one process (nbclient's imports cost seconds)."""
    jobs = []
    for name in PAYOFF_NOTEBOOKS:
        sources = [c.source for c in nbformat.read(ROOT / "course" / name, as_version=4).cells
                   if c.cell_type == "code"]
        jobs.append((str(ROOT / "course" / name), payoff_slice(sources)))
    proc = run(["-c", RUNNER, json.dumps(jobs)], cwd=ROOT / "course",
               env=clean_env(NNLIB_IMPL="solutions"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    parts = proc.stdout.split("=== notebook ")[1:]
    return {part.split("\n", 1)[0]: part.split("\n", 1)[1] for part in parts}


@pytest.mark.slow
@pytest.mark.parametrize("name", PAYOFF_NOTEBOOKS)
def test_payoff_cells_hold_with_the_solutions(payoff_runs, name):
    out = payoff_runs[name]
    assert "ERROR" not in out, out
    cells = out.split("=== payoff cell\n")[1:]
    assert cells, out
    for text in cells:
        assert "write these functions first" not in text, text
        assert "your" in text.lower(), text  # it trained with the student's layers
        verdicts = re.findall(r": (True|False)\b", text)
        assert verdicts and set(verdicts) == {"True"}, text


# ---------------------------------------------------------------- the cells to run
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _stores(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
            and isinstance(n.ctx, (ast.Store, ast.Del))}


def _reads(node):
    """Names ``node`` reads from the enclosing scope (a nested scope's own names left out)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = node.args
        own = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        own |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        outer = set()
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            outer |= _reads(d)
        if not isinstance(node, ast.Lambda):
            for d in node.decorator_list:
                outer |= _reads(d)
        body = node.body if isinstance(node.body, list) else [node.body]
        own |= set().union(*(_stores(b) for b in body))
        own |= {n.name for b in body for n in ast.walk(b)
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        return outer | (set().union(*(_reads(b) for b in body)) - own)
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        own = set().union(*(_stores(g.target) for g in node.generators))
        inner = set()
        for child in ast.iter_child_nodes(node):
            inner |= _reads(child)
        return inner - own | _reads(node.generators[0].iter)
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    out = {node.target.id} if isinstance(node, ast.AugAssign) and isinstance(
        node.target, ast.Name) else set()
    for child in ast.iter_child_nodes(node):
        out |= _reads(child)
    return out


def _touched(node):
    """Names whose object a statement may change in place: ``name.f(...)``, ``name[...] =``,
    ``name.attr =``, ``name += ...``."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            base = n.func.value
        elif isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, ast.Store):
            base = n.value
        elif isinstance(n, ast.AugAssign):
            base = n.target
        else:
            continue
        while isinstance(base, (ast.Attribute, ast.Subscript)):
            base = base.value
        if isinstance(base, ast.Name):
            out.add(base.id)
    return out


def cell_names(source):
    """(names the cell binds, names it reads before binding them, names whose object it may
    change in place, names it binds by import, def or class)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    bound, free, defined = set(), set(), set()

    def visit(stmts):
        for st in stmts:
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                free.update(_reads(st) - bound) if not isinstance(st, ast.ClassDef) else \
                    free.update(set().union(*(_reads(b) for b in st.body)) - bound)
                bound.add(st.name)
                defined.add(st.name)
            elif isinstance(st, (ast.For, ast.AsyncFor)):
                free.update(_reads(st.iter) - bound)
                bound.update(_stores(st.target))
                visit(st.body)
                visit(st.orelse)
            elif isinstance(st, (ast.With, ast.AsyncWith)):
                for item in st.items:
                    free.update(_reads(item.context_expr) - bound)
                    if item.optional_vars is not None:
                        bound.update(_stores(item.optional_vars))
                visit(st.body)
            elif isinstance(st, (ast.If, ast.While)):
                free.update(_reads(st.test) - bound)
                visit(st.body)
                visit(st.orelse)
            elif isinstance(st, ast.Try):
                visit(st.body)
                for h in st.handlers:
                    if h.type is not None:
                        free.update(_reads(h.type) - bound)
                    if h.name:
                        bound.add(h.name)
                    visit(h.body)
                visit(st.orelse)
                visit(st.finalbody)
            elif isinstance(st, (ast.Import, ast.ImportFrom)):
                names = {(a.asname or a.name).split(".")[0] for a in st.names}
                bound.update(names)
                defined.update(names)
            else:
                free.update(_reads(st) - bound)
                bound.update(_stores(st))

    visit(tree.body)
    return bound, free, _touched(tree), defined


def payoff_slice(sources):
    """Indices of the code cells to run: the payoff cells, and every earlier cell that binds
    or changes in place a name read by a kept cell after it (or read, when called, by a
    function a kept cell defines). Repeated until nothing changes."""
    info = [cell_names(s) for s in sources]
    modules = set().union(*(d for *_, d in info))  # changing a module or function: not data
    payoff = [i for i, s in enumerate(sources) if "student_layers(" in s]
    keep = set(payoff)
    while True:
        before = set(keep)
        for i in range(max(payoff), -1, -1):
            need = set().union(*(info[j][1] for j in keep if j > i or info[j][3]))
            bound, _, touched, _ = info[i]
            if bound & need or (touched - modules) & need:
                keep.add(i)
        if keep == before:
            return sorted(keep)


def test_the_course_has_payoff_cells():
    assert {"06_optimizers.ipynb", "09_batchnorm_inference.ipynb"} <= set(PAYOFF_NOTEBOOKS)


def test_the_slice_keeps_what_the_payoff_cells_read_and_what_changes_it():
    cells = ["%matplotlib inline\nimport numpy as np\nrng = np.random.default_rng(0)",
             "X = rng.normal(size=(4, 2))\nunused = 1",
             "plot = [x for x in range(1000)]",          # read by cell 8 (len(plot))
             "rng.normal()",                                # changes rng in place
             "def f(a):\n    return a + offset",       # reads a global when called
             "offset = 3",
             "X[0] = 0",                                    # changes X in place
             "for k in range(2):\n    X = X + k",       # rebinds X, reads it first
             "y = f(X) + len(plot) * 0 if False else f(X)\nstudent_layers()",
             "after = X"]                                   # after the last payoff cell
    assert payoff_slice(cells) == [0, 1, 2, 4, 5, 6, 7, 8]  # rng changes after X is drawn
    assert payoff_slice(cells[:2] + ["z = 1", "w = len(X)", "student_layers(X)"]) == [0, 1, 4]
    assert payoff_slice(["import numpy as np", "np.seterr(all='ignore')",
                         "student_layers(np)"]) == [0, 2]  # a module is not data
    with_fit = ["net = make()", "fit(net)", "student_layers(net)"]
    assert payoff_slice(with_fit) == [0, 2]  # the documented blind spot


def test_the_slice_reads_names_in_order_and_in_nested_scopes():
    bound, free, touched, defined = cell_names(
        "x = x + 1\nfor i in items:\n    total += i\n"
        "g = lambda v: v + scale\nsq = [j * j for j in range(n)]\n"
        "def h(u):\n    w = u\n    return w + bias\n"
        "try:\n    pass\nexcept ValueError as err:\n    print(err)\n"
        "with open(p) as fh:\n    fh.read()\nimport os.path as osp")
    assert free == {"x", "items", "total", "scale", "range", "n", "bias", "ValueError",
                    "print", "open", "p"}
    assert {"x", "i", "g", "sq", "h", "err", "fh", "osp"} <= bound
    assert {"total", "fh"} <= touched and defined == {"h", "osp"}
