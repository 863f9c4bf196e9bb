"""Which inputs may run code: none, unless the user allows it for this command.

poselift reads checkpoints, configs, run folders and keypoint files as data.
Checkpoints never run code (:func:`poselift.checkpoint.load_checkpoint` loads
tensors and plain containers only). The one input that can run code is a
config's loader hook (``data.dataset: loader``, ``data.loader:
package.module:function`` or ``file.py:function``), and a run folder's
``config.yaml`` records it, so ``evaluate``, ``compare``, ``figures`` and
``reproduce`` would run it again. A hook runs only when the user allows code
for this command:

* the command line: ``--allow-code`` (``train``, ``evaluate``, ``reproduce``, ``compare``, ``figures``);
* the environment: ``POSELIFT_ALLOW_CODE=1``;
* Python: ``with allow_code(): ...``.

Otherwise :func:`require_code_allowed` refuses with a one-line
:class:`~poselift.core.errors.ConfigError` naming the module or file that
would have run; nothing of it is imported.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
from typing import Iterator

from poselift.core.errors import ConfigError

__all__ = ["ALLOW_CODE_ENV", "allow_code", "code_allowed", "require_code_allowed"]

ALLOW_CODE_ENV = "POSELIFT_ALLOW_CODE"
"""Environment variable that allows loader hooks when set to ``1``."""

_ALLOWED: contextvars.ContextVar[bool] = contextvars.ContextVar("poselift_allow_code", default=False)


def code_allowed() -> bool:
    """True when the user allowed code for this command (:func:`allow_code` or ``POSELIFT_ALLOW_CODE=1``)."""
    return _ALLOWED.get() or os.environ.get(ALLOW_CODE_ENV, "").strip() == "1"


@contextlib.contextmanager
def allow_code(allowed: bool = True) -> Iterator[None]:
    """Within the block, loader hooks may run (``allowed=False``: the default rule, nothing runs)."""
    token = _ALLOWED.set(bool(allowed) or _ALLOWED.get())
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def require_code_allowed(what: str, source: str | None = None) -> None:
    """Raise :class:`ConfigError` unless code is allowed.

    Args:
        what: what would run, e.g. ``"data.loader: module 'os', function 'system'"``.
        source: where it is named (a config file or run folder), for the message.
    """
    if code_allowed():
        return
    where = f" (named by {source})" if source else ""
    raise ConfigError(f"{what}{where} would run code; refused: configs and run folders run no code unless you allow "
                      f"it for this command (--allow-code, or {ALLOW_CODE_ENV}=1), only for a config you trust")
