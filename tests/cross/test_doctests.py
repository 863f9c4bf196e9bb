"""The ``>>>`` examples in the public API's docstrings run, and say what they print.

``pytest --doctest-modules`` would import the source folders under their folder names (``lifting``,
``detectors``), not as ``poselift.*`` (setup.py's package_dir mapping), so the modules are imported by
their installed names and run with :mod:`doctest` here. Each public name must keep its examples: a deleted
example fails the test as surely as a wrong one.
"""
from __future__ import annotations

import doctest
import importlib
import io

import pytest

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# module -> {public name: the least number of examples its docstring must hold (73 in all)}
REQUIRED = {
    "poselift.inference": {"Lifter": 10, "load_lifter": 11},
    "poselift.core.sequence": {"PoseSequence": 6},
    "poselift.metrics": {"mpjpe": 4, "p_mpjpe": 5, "n_mpjpe": 3, "mpjve": 6},
    "poselift.core.layouts": {"get_layout": 3, "convert": 6},
    "poselift.model.streaming": {"StreamingLifter": 11},
    "poselift.detectors.formats.dispatch": {"read_2d": 8},
}


def _run(module_name: str) -> tuple[dict[str, int], list[str]]:
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    counts, failures = {}, []
    for test in finder.find(module):
        if not test.examples:
            continue
        out = io.StringIO()
        result = runner.run(test, out=out.write, clear_globs=True)
        counts[test.name.removeprefix(module_name + ".")] = result.attempted
        if result.failed:
            failures.append(out.getvalue())
    return counts, failures


@pytest.mark.parametrize("module_name", sorted(REQUIRED))
def test_docstring_examples_run(module_name):
    counts, failures = _run(module_name)
    assert not failures, "\n".join(failures)
    for name, least in REQUIRED[module_name].items():
        assert counts.get(name, 0) >= least, (
            f"{module_name}.{name}: {counts.get(name, 0)} docstring example(s), expected at least {least}")

