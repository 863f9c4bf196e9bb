"""The ``poselift`` entry point: every command registered, a broken command module an error, a fast --help,
every failure one line with a non-zero exit code (the traceback only with --debug)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from poselift.commands import build_parser, error_message, main
from poselift.core.errors import ConfigError


def test_every_command_is_there():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == {"demo", "prepare", "train", "evaluate", "reproduce", "table", "compare", "figures",
                                "detect", "lift", "video", "export", "import", "models", "bench"}


def test_a_command_module_that_fails_to_import_is_an_error_not_a_missing_command():
    code = ("import sys; sys.modules['poselift.commands.bench'] = None\n"
            "import poselift.commands")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "poselift.commands.bench" in r.stderr


def test_help_and_version_do_not_import_torch():
    code = ("import sys\nfrom poselift.commands import main\n"
            "for argv in (['--version'], ['--help'], ['train', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"


# --------------------------------------------------------------------------- failures are one line

def _one_line_error(capsys, argv, command: str) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"poselift {command}: error: ")
    return err.strip()


def test_careless_command_lines_get_one_line_each(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    assert "is a folder, not a config file" in _one_line_error(capsys, ["train", "folder"], "train")
    assert "--threads -1: the number of CPU threads must be 1 or more" in \
        _one_line_error(capsys, ["--threads", "-1", "evaluate", "folder"], "evaluate")
    monkeypatch.setenv("POSELIFT_THREADS", "abc")
    assert "$POSELIFT_THREADS='abc'" in _one_line_error(capsys, ["evaluate", "folder"], "evaluate")
    monkeypatch.delenv("POSELIFT_THREADS")
    assert "--out folder: is a folder; give a file name" in \
        _one_line_error(capsys, ["table", "folder", "--out", "folder"], "table")
    for argv in (["export", "folder", "--out", "file"], ["demo", "--quick", "--out", "file"],
                 ["figures", "folder", "--out", "file"]):
        assert "--out file: is a file, not a folder" in _one_line_error(capsys, argv, argv[0])
    assert "no such video" in _one_line_error(capsys, ["detect", "v.mp4", "--model", "m.onnx", "--out", "k.h5"],
                                              "detect")
    (tmp_path / "c.yaml").write_text("name: x\ndata: {dataset: synthetic}\n")
    if not torch.cuda.is_available():
        assert "device 'cuda': this torch has no CUDA support" in \
            _one_line_error(capsys, ["train", "c.yaml", "--out", "r", "--device", "cuda"], "train")
    assert "train.lr must be a finite number > 0" in \
        _one_line_error(capsys, ["train", "c.yaml", "--out", "r", "--set", "train.lr=-1e-3"], "train")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "file", "folder"]  # nothing written by any


@pytest.mark.parametrize("exc, expected", [
    (FloatingPointError("loss became non-finite in epoch 1"), "loss became non-finite in epoch 1"),
    (IsADirectoryError(21, "Is a directory", "runs/x"), "runs/x: Is a directory"),
    (PermissionError(13, "Permission denied", "/etc/x"), "/etc/x: Permission denied"),
    (TypeError("__init__() got an unexpected\nkeyword argument 'bogus'"),
     "TypeError: __init__() got an unexpected keyword argument 'bogus' (poselift --debug ... shows the traceback)"),
    (KeyError("rng"), "KeyError: 'rng' (poselift --debug"),
    (ConfigError("two\nlines"), "two lines"),
    (ValueError("x" * 5000), "x" * 990),
])
def test_any_failure_is_one_line_with_a_non_zero_exit(exc, expected, capsys, monkeypatch):
    import poselift.commands.export as export_cmd

    def fail(args):
        raise exc

    monkeypatch.setattr(export_cmd, "_export_cmd", fail)
    err = _one_line_error(capsys, ["export", "r"], "export")
    assert expected in err and len(err) < 1100
    assert "\n" not in error_message(exc)


def test_debug_shows_the_traceback_before_or_after_the_command(monkeypatch):
    import poselift.commands.export as export_cmd

    def fail(args):
        raise TypeError("a bug")

    monkeypatch.setattr(export_cmd, "_export_cmd", fail)
    for argv in (["--debug", "export", "r"], ["export", "r", "--debug"]):
        with pytest.raises(TypeError, match="a bug"):
            main(argv)
    with pytest.raises(SystemExit):  # argparse's own usage errors stay argparse's (exit 2)
        main(["export"])


def test_keyboard_interrupt_exits_130(capsys, monkeypatch):
    import poselift.commands.export as export_cmd

    def stop(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(export_cmd, "_export_cmd", stop)
    assert main(["export", "r"]) == 130
    assert capsys.readouterr().err.strip() == "poselift export: interrupted"
