"""Let one torch implementation serve numpy callers too.

Functions decorated with :func:`numpy_or_torch` accept numpy arrays or torch
tensors. When no argument is a tensor, numpy inputs are wrapped as tensors
(zero-copy where possible, dtype kept, so float64 stays float64), the torch
code runs, and tensors in the result are handed back as numpy arrays.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import numpy as np
import torch

F = TypeVar("F", bound=Callable[..., Any])


def _to_torch(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "iub" or x.dtype.kind == "f":
            return torch.from_numpy(np.ascontiguousarray(x))
        raise TypeError(f"unsupported numpy dtype {x.dtype}")
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, np.ndarray) for v in x):
        return type(x)(_to_torch(v) for v in x)
    return x


def _to_numpy(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, tuple):
        return tuple(_to_numpy(v) for v in x)
    if isinstance(x, list):
        return [_to_numpy(v) for v in x]
    if isinstance(x, dict):
        return {k: _to_numpy(v) for k, v in x.items()}
    return x


def numpy_or_torch(fn: F) -> F:
    """Decorator: run a torch function on numpy inputs and return numpy."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        values = list(args) + list(kwargs.values())
        if any(isinstance(v, torch.Tensor) for v in values):
            return fn(*args, **kwargs)
        if not any(isinstance(v, np.ndarray) for v in values):
            return fn(*args, **kwargs)
        args = tuple(_to_torch(a) for a in args)
        kwargs = {k: _to_torch(v) for k, v in kwargs.items()}
        return _to_numpy(fn(*args, **kwargs))

    return wrapper  # type: ignore[return-value]
