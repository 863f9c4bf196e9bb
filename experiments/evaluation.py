"""The protocol's averaging: per-frame errors -> per action (or subject and action) -> one number.

Errors are in millimetres against the root-relative ground truth. For each
test sequence the per-frame Protocol 1 (MPJPE), Protocol 2 (P-MPJPE), N-MPJPE
and velocity error (MPJVE) are computed, on the prediction as the network
gives it (``root="raw"``, VideoPose3D) or with its own root subtracted
(``root="subtract"``). Frames are then pooled **per action** (all subjects and
cameras; takes merge into actions by the protocol's rule, e.g. ``Walking`` and
``Walking 1``) and the action means averaged with equal weight (Human3.6M), or
pooled per subject and action and those cells averaged (HumanEva); see
:mod:`poselift.datasets.protocols`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from poselift.metrics import mpjpe_per_frame, mpjve_per_frame, n_mpjpe_per_frame, p_mpjpe_per_frame

__all__ = [
    "canonical_action",
    "SequenceErrors",
    "sequence_errors",
    "summarize",
    "METRICS",
    "METRIC_LABELS",
]

METRICS = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")
METRIC_LABELS = {
    "mpjpe": "Protocol 1 (MPJPE)",
    "p_mpjpe": "Protocol 2 (P-MPJPE)",
    "n_mpjpe": "N-MPJPE",
    "mpjve": "MPJVE (velocity)",
}


def canonical_action(name: str) -> str:
    """Action name without its take number: ``"Walking 1"`` / ``"Walking_1"`` -> ``"Walking"``."""
    return re.sub(r"[ _]\d+$", "", name.strip())


@dataclass
class SequenceErrors:
    """Per-frame errors (mm) of one sequence.

    Attributes:
        mpjpe, p_mpjpe, n_mpjpe: ``(T,)``.
        mpjve: ``(T - 1,)`` (empty for one-frame sequences).
    """

    subject: str
    action: str
    camera: str
    mpjpe: np.ndarray
    p_mpjpe: np.ndarray
    n_mpjpe: np.ndarray
    mpjve: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return len(self.mpjpe)


def sequence_errors(pred: np.ndarray, target: np.ndarray, root: int = 0, subject: str = "", action: str = "",
                    camera: str = "", device: str | torch.device = "cpu", root_mode: str = "subtract"
                    ) -> SequenceErrors:
    """Per-frame errors of one sequence.

    Args:
        pred, target: ``(T, J, 3)`` in metres; the target's root is subtracted here.
        root: root joint index.
        root_mode: ``"subtract"``: the prediction's own root is subtracted too; ``"raw"`` (VideoPose3D):
            the prediction is compared as it is (a network trained on root-relative targets puts its
            root near the origin; the remaining offset counts as error).
    """
    if pred.shape != target.shape:
        raise ValueError(f"{subject}/{action}/{camera}: prediction {pred.shape} vs target {target.shape}")
    if root_mode not in ("subtract", "raw"):
        raise ValueError(f"root_mode must be 'subtract' or 'raw', got {root_mode!r}")
    p = torch.as_tensor(np.asarray(pred), dtype=torch.float64, device=device)
    t = torch.as_tensor(np.asarray(target), dtype=torch.float64, device=device)
    if root_mode == "subtract":
        p = p - p[:, root : root + 1]
    t = t - t[:, root : root + 1]
    mm = lambda x: (x * 1000).cpu().numpy()  # noqa: E731
    return SequenceErrors(
        subject=subject, action=action, camera=camera,
        mpjpe=mm(mpjpe_per_frame(p, t)), p_mpjpe=mm(p_mpjpe_per_frame(p, t)),
        n_mpjpe=mm(n_mpjpe_per_frame(p, t)),
        mpjve=mm(mpjve_per_frame(p, t)) if len(p) > 1 else np.zeros(0),
    )


def _pool(errs: Sequence[SequenceErrors]) -> dict[str, float]:
    out = {}
    for m in METRICS:
        vals = np.concatenate([getattr(e, m) for e in errs]) if errs else np.zeros(0)
        out[m] = float(vals.mean()) if len(vals) else float("nan")
    out["frames"] = int(sum(e.frames for e in errs))
    return out


def _action_average(errs: Sequence[SequenceErrors], action_of: Callable[[str], str] = canonical_action
                    ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    by_action: dict[str, list[SequenceErrors]] = {}
    for e in errs:
        by_action.setdefault(action_of(e.action), []).append(e)
    per_action = {a: _pool(v) for a, v in sorted(by_action.items())}
    overall = {m: float(np.mean([v[m] for v in per_action.values()])) if per_action else float("nan")
               for m in METRICS}
    overall["frames"] = int(sum(v["frames"] for v in per_action.values()))
    overall["actions"] = len(per_action)
    return overall, per_action


def summarize(errors: Iterable[SequenceErrors], notes: Sequence[str] = (), protocol=None) -> dict:
    """Aggregate per-sequence errors into the protocol's numbers.

    Args:
        errors: per-sequence errors.
        notes: statements the table must carry.
        protocol: a :class:`~poselift.datasets.protocols.Protocol` (its action rule and averaging);
            ``None``: takes merge by dropping a trailing take number (:func:`canonical_action`) and
            actions are averaged.

    Returns:
        ``{"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"}`` (mm, averaged by the protocol's rule),
        ``"frames"``, ``"sequences"``, ``"actions"``, ``"averaging"``,
        ``"per_action"`` {action: {metric: mm, "frames": n}},
        ``"per_subject"`` {subject: {metric: mm (action-averaged within the subject), "frames": n}},
        ``"per_subject_action"`` {subject: {action: {metric: mm, "frames": n}}} and ``"notes"``.
    """
    errors = list(errors)
    action_of = protocol.action_of if protocol is not None else canonical_action
    averaging = protocol.averaging if protocol is not None else "action"
    overall, per_action = _action_average(errors, action_of)
    subjects = sorted({e.subject for e in errors})
    per_subject, per_subject_action = {}, {}
    for s in subjects:
        o, cells = _action_average([e for e in errors if e.subject == s], action_of)
        per_subject[s] = {k: o[k] for k in (*METRICS, "frames")}
        per_subject_action[s] = cells
    if averaging == "subject_action":
        cells = [c for by_action in per_subject_action.values() for c in by_action.values()]
        overall = {m: float(np.mean([c[m] for c in cells])) if cells else float("nan") for m in METRICS}
        overall["frames"] = int(sum(c["frames"] for c in cells))
        overall["actions"] = len(per_action)
    out = {m: overall[m] for m in METRICS}
    out.update(frames=overall["frames"], sequences=len(errors), actions=overall["actions"], averaging=averaging,
               per_action=per_action, per_subject=per_subject, per_subject_action=per_subject_action,
               notes=list(notes))
    return out


def markdown_table(summary: dict, title: str | None = None, per: str | None = None) -> str:
    """A Markdown table of one summary: rows = actions (``per="action"``), subjects (``"subject"``) or
    subject x action cells (``"subject_action"``), then the average. Default: the summary's averaging."""
    per = per or ("subject_action" if summary.get("averaging") == "subject_action" else "action")
    if per == "subject_action":
        rows = {f"{s} {a}": v for s, cells in summary.get("per_subject_action", {}).items() for a, v in cells.items()}
    elif per == "subject":
        rows = summary["per_subject"]
    elif per == "action":
        rows = summary["per_action"]
    else:
        raise ValueError(f"per must be 'action', 'subject' or 'subject_action', got {per!r}")
    head = f"| {per.replace('_', ' x ')} | P1 (mm) | P2 (mm) | N-MPJPE (mm) | MPJVE (mm) | frames |"
    lines = [f"**{title}**", ""] if title else []
    lines += [head, "|---|---:|---:|---:|---:|---:|"]
    for name, v in rows.items():
        lines.append(f"| {name} | {v['mpjpe']:.1f} | {v['p_mpjpe']:.1f} | {v['n_mpjpe']:.1f} | {v['mpjve']:.2f} | {v['frames']} |")
    lines.append(f"| **average** | **{summary['mpjpe']:.1f}** | **{summary['p_mpjpe']:.1f}** | "
                 f"**{summary['n_mpjpe']:.1f}** | **{summary['mpjve']:.2f}** | {summary['frames']} |")
    for n in summary.get("notes", []):
        lines += ["", f"_{n}_"]
    return "\n".join(lines) + "\n"
