"""A real (not editable) install: the sdist and the wheel carry every module and data file, and the wheel,
installed into a fresh virtual environment, works from a folder outside the checkout.

The editable install the suite runs under finds modules in the checkout whatever ``setup.py`` declares; only
a built wheel shows a package or data file that was left out (issue 21: a wheel of 4 packages gave
``No module named 'poselift.commands'``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers import REPO

from poselift._version import __version__

pytestmark = pytest.mark.slow

FOLDERS = {"lifting": "poselift", "datasets": "poselift/datasets", "detectors": "poselift/detectors",
           "experiments": "poselift/experiments"}
"""setup.py's package_dir, as paths inside the wheel."""
CHECKOUT_ONLY = ("experiments/bench/",)
"""Not installed: benchmark scripts run from a checkout (no ``__init__.py``; they find the repository by path)."""
SUFFIXES = (".py", ".yaml", ".yml", ".json", ".sh")
IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", "runs",
                                "cache", ".pytest_cache", "*.npz", "*.h5", "*.pt", "*.onnx", "*.mp4", "*.gif")


def source_files() -> list[str]:
    """Every code and data file under the mapped folders, relative to the repository root."""
    out = []
    for folder in FOLDERS:
        for p in sorted((REPO / folder).rglob("*")):
            if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts:
                out.append(p.relative_to(REPO).as_posix())
    return out


def in_wheel(rel: str) -> str:
    folder, rest = rel.split("/", 1)
    return f"{FOLDERS[folder]}/{rest}"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """``(sdist, wheel)`` built offline by setuptools' PEP 517 backend from a clean copy of the checkout."""
    tmp = tmp_path_factory.mktemp("build")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=IGNORE)
    code = ("from setuptools import build_meta as b; "
            "s = b.build_sdist('dist'); w = b.build_wheel('dist'); print('BUILT', s, w)")
    r = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=300,
                       env=_env())
    assert r.returncode == 0, r.stderr[-3000:]
    sdist_name, wheel_name = r.stdout.strip().splitlines()[-1].split()[1:]
    return src / "dist" / sdist_name, src / "dist" / wheel_name


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["POSELIFT_THREADS"] = "1"
    return env


def test_wheel_holds_every_module_and_data_file(built):
    _, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {in_wheel(f) for f in source_files() if not f.startswith(CHECKOUT_ONLY)}
    assert want - names == set(), f"missing from the wheel: {sorted(want - names)}"
    extra = {n for n in names if not n.startswith(f"poselift-{__version__}.dist-info/")} - want
    assert extra == set(), f"in the wheel but not in the source tree: {sorted(extra)}"
    for package in ("poselift/commands/__init__.py", "poselift/experiments/configs/h36m_gt_27.yaml",
                    "poselift/experiments/scripts/__init__.py", "poselift/datasets/h36m/__init__.py"):
        assert package in names
    entry = zipfile.ZipFile(wheel).read(f"poselift-{__version__}.dist-info/entry_points.txt").decode()
    assert "poselift = poselift.commands:main" in entry


def test_sdist_holds_the_source_tree(built):
    sdist, _ = built
    root = f"poselift-{__version__}/"
    names = {n[len(root):] for n in tarfile.open(sdist).getnames() if n.startswith(root)}
    want = set(source_files()) | {"setup.py", "pyproject.toml", "README.md", "constraints.txt", "MANIFEST.in"}
    assert want - names == set(), f"missing from the sdist: {sorted(want - names)}"
    tests = {p.relative_to(REPO).as_posix() for p in (REPO / "tests").rglob("*.py") if "__pycache__" not in p.parts}
    assert tests - names == set(), f"tests missing from the sdist: {sorted(tests - names)}"
    docs = {p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")}  # the README links the guide
    assert len(docs) >= 8 and docs - names == set(), f"guide pages missing from the sdist: {sorted(docs - names)}"


def test_wheel_installed_in_a_fresh_venv_runs_outside_the_checkout(built, tmp_path):
    """Non-editable install over the current interpreter's packages (torch and the rest are not installed
    again): the venv's own copy must be the one imported, not an editable install of the checkout."""
    _, wheel = built
    venv = tmp_path / "venv"
    env = _env()
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=120)
    py = venv / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q",
                        str(wheel)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    user = tmp_path / "user"  # a user's folder: no checkout, no tests/ on the path
    user.mkdir()

    code = ("import poselift, poselift.commands, poselift.experiments.scripts.synthetic_humaneva as he; "
            "print(poselift.__file__); print(sorted(he.cameras()))")
    r = subprocess.run([str(py), "-c", code], cwd=user, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    where, subjects = r.stdout.splitlines()[:2]
    assert Path(where).resolve().is_relative_to(venv.resolve()), f"imported {where}, not the venv's copy"
    assert subjects == "['S1', 'S2', 'S3']"  # the HumanEva cameras file shipped as package data

    exe = str(venv / "bin" / "poselift")
    r = subprocess.run([exe, "--version"], cwd=user, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and r.stdout.strip() == f"poselift {__version__}", r.stdout + r.stderr
    r = subprocess.run([exe, "--threads", "1", "demo", "--quick", "--out", "demo", "--no-progress"], cwd=user,
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "| temporal (rf 27) |" in r.stdout
    for f in ("metrics.json", "table.md", "figure.png", "temporal/checkpoint.pt", "single_frame/checkpoint.pt"):
        assert (user / "demo" / f).is_file(), f
    print(r.stdout)
