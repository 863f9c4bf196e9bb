"""The evaluation protocol: per-frame errors -> per action -> over actions.

Errors are root-relative, in millimetres. For each test sequence the per-frame
Protocol 1 (MPJPE), Protocol 2 (P-MPJPE), N-MPJPE and velocity error (MPJVE)
are computed; then frames are pooled **per action** (all subjects and cameras,
merging repeated takes such as ``Walking`` / ``Walking 1``) and the action
means are averaged with equal weight, as in the Human3.6M literature.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

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
                    camera: str = "", device: str | torch.device = "cpu") -> SequenceErrors:
    """Per-frame errors of one sequence.

    Args:
        pred, target: ``(T, J, 3)`` in metres (root subtracted from both here).
        root: root joint index.
    """
    if pred.shape != target.shape:
        raise ValueError(f"{subject}/{action}/{camera}: prediction {pred.shape} vs target {target.shape}")
    p = torch.as_tensor(np.asarray(pred), dtype=torch.float64, device=device)
    t = torch.as_tensor(np.asarray(target), dtype=torch.float64, device=device)
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


def _action_average(errs: Sequence[SequenceErrors]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    by_action: dict[str, list[SequenceErrors]] = {}
    for e in errs:
        by_action.setdefault(canonical_action(e.action), []).append(e)
    per_action = {a: _pool(v) for a, v in sorted(by_action.items())}
    overall = {m: float(np.mean([v[m] for v in per_action.values()])) if per_action else float("nan")
               for m in METRICS}
    overall["frames"] = int(sum(v["frames"] for v in per_action.values()))
    overall["actions"] = len(per_action)
    return overall, per_action


def summarize(errors: Iterable[SequenceErrors], notes: Sequence[str] = ()) -> dict:
    """Aggregate per-sequence errors into the protocol's numbers.

    Returns:
        ``{"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"}`` (mm, averaged per action
        then over actions), ``"frames"``, ``"sequences"``, ``"actions"``,
        ``"per_action"`` {action: {metric: mm, "frames": n}},
        ``"per_subject"`` {subject: {metric: mm (action-averaged within the
        subject), "frames": n}} and ``"notes"``.
    """
    errors = list(errors)
    overall, per_action = _action_average(errors)
    subjects = sorted({e.subject for e in errors})
    per_subject = {}
    for s in subjects:
        o, _ = _action_average([e for e in errors if e.subject == s])
        per_subject[s] = {k: o[k] for k in (*METRICS, "frames")}
    out = {m: overall[m] for m in METRICS}
    out.update(frames=overall["frames"], sequences=len(errors), actions=overall["actions"],
               per_action=per_action, per_subject=per_subject, notes=list(notes))
    return out


def markdown_table(summary: dict, title: str | None = None, per: str = "action") -> str:
    """A Markdown table of one summary: rows = actions (or subjects) + average."""
    rows = summary["per_action"] if per == "action" else summary["per_subject"]
    head = f"| {per} | P1 (mm) | P2 (mm) | N-MPJPE (mm) | MPJVE (mm) | frames |"
    lines = [f"**{title}**", ""] if title else []
    lines += [head, "|---|---:|---:|---:|---:|---:|"]
    for name, v in rows.items():
        lines.append(f"| {name} | {v['mpjpe']:.1f} | {v['p_mpjpe']:.1f} | {v['n_mpjpe']:.1f} | {v['mpjve']:.2f} | {v['frames']} |")
    lines.append(f"| **average** | **{summary['mpjpe']:.1f}** | **{summary['p_mpjpe']:.1f}** | "
                 f"**{summary['n_mpjpe']:.1f}** | **{summary['mpjve']:.2f}** | {summary['frames']} |")
    for n in summary.get("notes", []):
        lines += ["", f"_{n}_"]
    return "\n".join(lines) + "\n"
