"""The grading package's layout keeps its trust boundary: who may import what.

- ``nnlib/grading/sandboxed/`` runs inside the sandbox: the standard library, numpy and
  its sibling modules only, never ``nnlib``;
- ``nnlib/grading/judge/`` is the judge process: it never imports the grading process
  (``grader/``), the self-check (``selfcheck/``) or the course side (``nnlib/course``);
- ``nnlib/grading/grader/`` is the grading process: no pytest and no self-check;
- no import cycles inside ``nnlib.grading``, counting imports inside functions too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from .conftest import ROOT

GRADING = ROOT / "nnlib" / "grading"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _skipped(tree: ast.AST) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:`` (no import at run time) and under a
    ``try`` that catches ImportError (a probe that the module is absent)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        probe = isinstance(node, ast.Try) and any(
            "ImportError" in ast.unparse(h.type) for h in node.handlers if h.type is not None)
        typing = isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        if probe or typing:
            for part in node.body:
                out.update(id(n) for n in ast.walk(part))
    return out


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports at run time (absolute names; relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else \
        _module_name(path).rpartition(".")[0]
    skipped = _skipped(tree)
    out = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def _grading_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in GRADING.rglob("*.py")}


def test_the_sandboxed_code_imports_only_the_standard_library_numpy_and_its_siblings():
    folder = GRADING / "sandboxed"
    siblings = {p.stem for p in folder.glob("*.py")}
    files = sorted(folder.glob("*.py"))
    assert {p.name for p in files} >= {"worker.py", "protocol.py", "__init__.py"}
    for path in files:
        for name in _imports(path):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in ("numpy", "__future__") \
                or top in siblings, f"{path.relative_to(ROOT)} imports {name}"


def test_every_sandboxed_module_is_copied_into_the_sandbox():
    """The worker imports its siblings by their plain names: a module left out of FILES
    would be missing from the sandbox's root (bubblewrap's and the chroot fallback's)."""
    from nnlib.grading import sandboxed

    folder = GRADING / "sandboxed"
    assert set(sandboxed.FILES) == {p.name for p in folder.glob("*.py")} - {"__init__.py"}
    assert sandboxed.HERE == folder.resolve()


def test_the_judge_never_imports_the_grading_process_or_the_self_check():
    for path in sorted((GRADING / "judge").glob("*.py")):
        for name in _imports(path):
            assert not name.startswith(("nnlib.grading.grader", "nnlib.grading.selfcheck",
                                        "nnlib.course")), f"{path.relative_to(ROOT)} imports {name}"
            assert name not in ("nnlib.grading.check", "nnlib.grading.CheckResult"), \
                f"{path.relative_to(ROOT)} imports the self-check ({name})"


def test_the_grading_process_never_imports_the_self_check_nor_runs_tests_itself():
    for path in sorted((GRADING / "grader").glob("*.py")):
        for name in _imports(path):
            assert not name.startswith("nnlib.grading.selfcheck") and name not in (
                "nnlib.grading.check", "nnlib.grading.CheckResult"), \
                f"{path.relative_to(ROOT)} imports the self-check ({name})"
            assert name.split(".")[0] != "pytest", f"{path.relative_to(ROOT)} imports pytest"


def test_the_folders_name_the_trust_boundary():
    folders = {p.name for p in GRADING.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == {"sandboxed", "judge", "grader", "selfcheck"}
    loose = {p.name for p in GRADING.glob("*.py")}
    assert loose == {"__init__.py", "impl.py", "registry.py", "clock.py"}, loose


def test_no_import_cycles_in_the_grading_package():
    modules = _grading_modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for imported in _imports(path):
            # "from nnlib.grading import x" names the module nnlib.grading.x when it exists
            target = imported if imported in modules else imported.rpartition(".")[0]
            if target in modules and target != name and target != "nnlib.grading":
                deps.add(target)
        graph[name] = deps
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        seen[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if seen.get(m) == 1:
                cycle = stack[stack.index(m):] + [m]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if m not in seen:
                visit(m)
        stack.pop()
        seen[n] = 2

    for n in sorted(graph):
        if n not in seen:
            visit(n)


def test_the_cycle_check_can_fail(tmp_path, monkeypatch):
    """Two modules that import each other are reported."""
    import tests.grading.test_layout as me

    pkg = tmp_path / "nnlib" / "grading"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from nnlib.grading import b\n")
    (pkg / "b.py").write_text("def f():\n    from nnlib.grading.a import x\n")
    monkeypatch.setattr(me, "ROOT", tmp_path)
    monkeypatch.setattr(me, "GRADING", pkg)
    try:
        me.test_no_import_cycles_in_the_grading_package()
    except AssertionError as e:
        assert "nnlib.grading.a -> nnlib.grading.b -> nnlib.grading.a" in str(e)
    else:
        raise AssertionError("the cycle was not found")
