"""Comparison tables: rows = methods, columns = Protocol 1, Protocol 2, velocity error.

Rows come from run folders (their ``metrics.json``) or from any metrics dict;
published numbers (REFERENCE.md section 1) can be added as reference rows,
always marked as such. Output formats: Markdown (README), LaTeX with booktabs
(papers), CSV (analysis).
"""
from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from poselift.core.io import read_json

__all__ = ["Row", "row_from_run", "ANCHORS", "anchor_rows", "render_table"]


@dataclass
class Row:
    """One line of a comparison table (errors in mm; NaN when unknown)."""

    method: str
    mpjpe: float = math.nan
    p_mpjpe: float = math.nan
    mpjve: float = math.nan
    n_mpjpe: float = math.nan
    per_action: dict[str, dict[str, float]] = field(default_factory=dict)
    reference: bool = False  # a published number, not measured here
    source: str = ""
    notes: list[str] = field(default_factory=list)


def _nan(v) -> float:
    return math.nan if v is None else float(v)


def row_from_metrics(method: str, m: dict, source: str = "") -> Row:
    return Row(method, _nan(m.get("mpjpe")), _nan(m.get("p_mpjpe")), _nan(m.get("mpjve")), _nan(m.get("n_mpjpe")),
               dict(m.get("per_action", {})), False, source, list(m.get("notes", [])))


def row_from_run(run_dir: str | os.PathLike, method: str | None = None) -> Row:
    """A row from ``RUN_DIR/metrics.json`` (method name: the run's ``name`` or folder name)."""
    run_dir = Path(run_dir)
    path = run_dir / "metrics.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir}: no metrics.json (train or evaluate the run first)")
    m = read_json(path)
    for k in ("mpjpe", "p_mpjpe"):
        if k not in m:
            raise ValueError(f"{path}: no {k!r} in it")
    return row_from_metrics(method or m.get("name") or run_dir.name, m, str(run_dir))


# Published Human3.6M numbers (S9+S11, mm) from REFERENCE.md section 1:
# (method, 2D input, frames, P1, P2, source)
ANCHORS: list[tuple[str, str, str, float, float, str]] = [
    ("VideoPose3D", "GT 2D", "243", 37.2, 27.2, "VideoPose3D README"),
    ("VideoPose3D", "CPN ft", "243", 46.8, 36.5, "VideoPose3D README"),
    ("VideoPose3D", "CPN", "81", 47.7, 37.2, "VideoPose3D README"),
    ("VideoPose3D", "CPN", "27", 48.8, 38.0, "VideoPose3D README"),
    ("VideoPose3D", "CPN", "1", 51.8, 40.0, "paper, as aggregated"),
    ("VideoPose3D", "Mask R-CNN", "243", 51.6, 40.3, "VideoPose3D README"),
    ("VideoPose3D (MMPose re-run)", "GT 2D", "27", 40.1, 30.1, "MMPose model zoo"),
    ("VideoPose3D (MMPose re-run)", "GT 2D", "81", 39.1, 29.3, "MMPose model zoo"),
    ("VideoPose3D (MMPose re-run)", "GT 2D", "243", 37.6, 28.3, "MMPose model zoo"),
    ("VideoPose3D semi-sup., 10% S1", "GT 2D", "27", 65.2, math.nan, "VideoPose3D README"),
    ("VideoPose3D supervised only, 10% S1", "GT 2D", "27", 80.7, math.nan, "VideoPose3D README"),
    ("VideoPose3D semi-sup. (MMPose re-run)", "GT 2D", "27", 57.2, 42.4, "MMPose model zoo"),
    ("Martinez et al. 2017", "GT 2D", "1", 45.5, math.nan, "paper"),
]


def anchor_rows(filter_input: str | None = None, frames: Sequence[str] | None = None) -> list[Row]:
    """Published anchors as reference rows (optionally only one 2D input / some receptive fields)."""
    out = []
    for method, inp, f, p1, p2, src in ANCHORS:
        if filter_input and filter_input.lower() not in inp.lower():
            continue
        if frames and f not in frames:
            continue
        out.append(Row(f"{method} [{inp}, {f} fr.] (published)", p1, p2, reference=True, source=src))
    return out


def _fmt(v: float, digits: int = 1) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def _row_notes(rows: Sequence[Row]) -> list[str]:
    """Notes of the rows, deduplicated; a note only some measured rows carry names them."""
    measured = [r for r in rows if not r.reference]
    out = []
    for n in dict.fromkeys(n for r in rows for n in r.notes):
        having = [r.method for r in measured if n in r.notes]
        out.append(n if len(having) == len(measured) else f"{', '.join(having)}: {n}")
    return out


def render_table(rows: Sequence[Row], fmt: str = "md", per_action: bool = False, caption: str | None = None,
                 notes: Sequence[str] = ()) -> str:
    """Render rows as ``"md"``, ``"latex"`` (booktabs) or ``"csv"``.

    Columns: Protocol 1, Protocol 2, velocity error (MPJVE), N-MPJPE; with
    ``per_action`` also Protocol 1 per action. Reference rows are marked
    "(published)" and, in Markdown/LaTeX, set in italics. Notes (deduplicated
    across rows) follow the table; a note that only some rows carry names them.
    """
    if fmt not in ("md", "latex", "csv"):
        raise ValueError(f"format must be md, latex or csv, got {fmt!r}")
    actions = sorted({a for r in rows for a in r.per_action}) if per_action else []
    header = ["Method", "P1 (mm)", "P2 (mm)", "MPJVE (mm)", "N-MPJPE (mm)"] + [f"{a} P1" for a in actions]
    all_notes = list(dict.fromkeys([*notes, *_row_notes(rows)]))

    def cells(r: Row) -> list[str]:
        vals = [_fmt(r.mpjpe), _fmt(r.p_mpjpe), _fmt(r.mpjve, 2), _fmt(r.n_mpjpe)]
        vals += [_fmt(r.per_action.get(a, {}).get("mpjpe", math.nan)) for a in actions]
        return vals

    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["method", "reference", "mpjpe_mm", "p_mpjpe_mm", "mpjve_mm", "n_mpjpe_mm", "source"]
                   + [f"mpjpe_mm:{a}" for a in actions])
        for r in rows:
            w.writerow([r.method, int(r.reference), r.mpjpe, r.p_mpjpe, r.mpjve, r.n_mpjpe, r.source]
                       + [r.per_action.get(a, {}).get("mpjpe", math.nan) for a in actions])
        return buf.getvalue()

    if fmt == "md":
        lines = [f"**{caption}**", ""] if caption else []
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|---|" + "---:|" * (len(header) - 1))
        for r in rows:
            name = f"_{r.method}_" if r.reference else r.method
            lines.append("| " + " | ".join([name, *cells(r)]) + " |")
        for n in all_notes:
            lines += ["", f"_{n}_"]
        return "\n".join(lines) + "\n"

    def tex(s: str) -> str:
        for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                     ("–", "--")):
            s = s.replace(a, b)
        return s

    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
             r"\toprule", " & ".join(tex(h) for h in header) + r" \\", r"\midrule"]
    measured = [r for r in rows if not r.reference]
    refs = [r for r in rows if r.reference]
    for r in measured:
        lines.append(" & ".join([tex(r.method), *(tex(c) for c in cells(r))]) + r" \\")
    if refs:
        if measured:
            lines.append(r"\midrule")
        for r in refs:
            lines.append(" & ".join([r"\textit{" + tex(r.method) + "}", *(tex(c) for c in cells(r))]) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    if caption or all_notes:
        lines.append(r"\caption{" + tex(" ".join([caption or "", *all_notes]).strip()) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"
