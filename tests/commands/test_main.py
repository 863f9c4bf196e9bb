"""The ``poselift`` entry point: every command registered, a broken command module an error, a fast --help."""
from __future__ import annotations

import subprocess
import sys

from poselift.commands import build_parser


def test_every_command_is_there():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == {"demo", "prepare", "train", "evaluate", "reproduce", "table", "compare", "figures",
                                "detect", "lift", "export", "import", "bench"}


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
