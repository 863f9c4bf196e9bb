"""The package's dependencies point one way: each module imports only from its own layer or below.

Layers, lowest first (a module may import modules of its own layer or of any layer below)::

    0 core         poselift.core.*, poselift._version
    1 model        poselift.model.*, poselift.metrics, poselift.proportions
    2 checkpoint   poselift.checkpoint
    3 use          poselift.inference, poselift.training.*, poselift.viz.*
    4 data         poselift.datasets.*, poselift.detectors.*
    5 experiments  poselift.experiments.*
    6 commands     poselift.commands.*, poselift.__main__

``poselift`` itself (lifting/__init__.py) is the lazy facade: it may import only
``poselift._version`` (everything else it offers is imported on first use).

Imports are read with :mod:`ast` from every module of the four package folders,
wherever they stand (module level or inside functions: a lazy import from a
layer above is still a dependency on it). The same import graph must have no
cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"lifting": "poselift", "datasets": "poselift.datasets", "detectors": "poselift.detectors",
           "experiments": "poselift.experiments"}

LAYERS = [
    ("core", ("poselift.core", "poselift._version")),
    ("model", ("poselift.model", "poselift.metrics", "poselift.proportions")),
    ("checkpoint", ("poselift.checkpoint",)),
    ("use", ("poselift.inference", "poselift.training", "poselift.viz")),
    ("data", ("poselift.datasets", "poselift.detectors")),
    ("experiments", ("poselift.experiments",)),
    ("commands", ("poselift.commands", "poselift.__main__")),
]
FACADE = "poselift"
FACADE_MAY_IMPORT = {"poselift._version"}


def package_modules(root: Path = ROOT, folders: dict[str, str] = FOLDERS) -> dict[str, Path]:
    """``{module name: file}`` for every module of the package folders (scripts in folders without
    ``__init__.py``, such as experiments/bench/, are not modules of the package)."""
    out: dict[str, Path] = {}
    for folder, prefix in folders.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base)
            if any(not (base.joinpath(*rel.parts[:i]) / "__init__.py").exists() for i in range(1, len(rel.parts))):
                continue  # not inside a package
            parts = list(rel.parts)
            parts[-1] = parts[-1][:-3]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([prefix, *parts])] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules that ``name`` imports anywhere in its file."""
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                targets.append(sub if sub in modules else mod)
        for t in targets:
            while t and t not in modules and "." in t:  # import a.b.c of a module a.b
                t = t.rsplit(".", 1)[0]
            if t in modules and t != name:
                out.add(t)
    return out


def layer_of(module: str, layers=LAYERS) -> int | None:
    for i, (_, prefixes) in enumerate(layers):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return None


def layering_violations(graph: dict[str, set[str]], layers=LAYERS, facade: str = FACADE,
                        facade_may_import=FACADE_MAY_IMPORT) -> list[str]:
    problems = []
    for mod, deps in sorted(graph.items()):
        if mod == facade:
            bad = sorted(deps - set(facade_may_import))
            if bad:
                problems.append(f"{mod} (the lazy facade) imports {bad}")
            continue
        own = layer_of(mod, layers)
        if own is None:
            problems.append(f"{mod} belongs to no layer")
            continue
        for dep in sorted(deps):
            if dep == facade:
                problems.append(f"{mod} imports the facade {facade}: import the module that defines the name")
                continue
            theirs = layer_of(dep, layers)
            if theirs is not None and theirs > own:
                problems.append(f"{mod} (layer {layers[own][0]}) imports {dep} (layer {layers[theirs][0]}, above)")
    return problems


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = package_modules()
    assert "poselift.core.errors" in modules and "poselift.commands" in modules
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_every_module_imports_only_from_its_layer_or_below(graph):
    assert layering_violations(graph) == []


def test_there_is_no_import_cycle(graph):
    assert find_cycle(graph) is None


def test_every_module_has_a_layer(graph):
    assert [m for m in graph if m != FACADE and layer_of(m) is None] == []


def _fake_package(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for rel, text in files.items():
        p = tmp_path / "lifting" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    modules = package_modules(tmp_path, {"lifting": "poselift"})
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_the_checks_catch_an_upward_import_a_hidden_cycle_and_the_facade(tmp_path):
    g = _fake_package(tmp_path, {
        "__init__.py": "from poselift.core import errors\n",
        "core/__init__.py": "",
        "core/errors.py": "def f():\n    from poselift.inference import x  # a lazy import upwards\n",
        "inference.py": "from ..poselift.core import errors\nfrom poselift.core.errors import f\n",
        "commands/__init__.py": "import poselift.inference\n",
    })
    problems = layering_violations(g)
    assert "poselift.core.errors (layer core) imports poselift.inference (layer use, above)" in problems
    assert any("the lazy facade" in p for p in problems)
    assert find_cycle(g) == ["poselift.core.errors", "poselift.inference", "poselift.core.errors"]
    ok = _fake_package(tmp_path / "ok", {
        "__init__.py": "from poselift._version import v\n", "_version.py": "v = 1\n", "core/__init__.py": "",
        "core/errors.py": "", "inference.py": "from poselift.core import errors\n",
    })
    assert layering_violations(ok) == [] and find_cycle(ok) is None


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    return seen


def test_lifting_a_sequence_does_not_import_the_training_loop(graph):
    """What a user loads (Lifter, load_lifter) needs the core, the model and the checkpoint format only:
    no training loop, DDP, losses, window bank, datasets or experiments (read from every import in the files,
    including those inside functions)."""
    reach = _reachable(graph, "poselift.inference")
    assert "poselift.checkpoint" in reach and "poselift.model.tcn" in reach
    heavy = sorted(m for m in reach if m.startswith(("poselift.training", "poselift.datasets",
                                                      "poselift.experiments", "poselift.viz")))
    assert heavy == []
