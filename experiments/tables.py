"""Comparison tables: rows = methods, columns = Protocol 1, Protocol 2, velocity error.

Rows come from run folders (their ``metrics.json``) or from any metrics dict;
published numbers (REFERENCE.md section 1) can be added as reference rows,
always marked as such. Output formats: Markdown (README), LaTeX with booktabs
(papers), CSV (analysis).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from poselift.core.io import read_json

__all__ = ["Row", "Anchor", "row_from_run", "rows_from_runs", "ANCHORS", "ANCHOR_PROTOCOLS", "anchor_rows", "render_table",
           "check_anchor_datasets"]


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
    dataset: str = ""  # "h36m", "npz:<file>", ... ("" unknown: a metrics.json from before it was recorded)
    protocol: str = ""  # the protocol's name
    flip_test: bool | None = None  # flip test-time augmentation (None: unknown)
    per_subject_action: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    joints: str = ""  # the scored joints of a cross-dataset evaluation, e.g. "12 shared joints" ("": all of them)
    joint_set: tuple[str, ...] = ()  # their names in the test data's layout (() unknown or all)
    proportions: dict[str, float] = field(default_factory=dict)  # metrics.json "proportions" (ratios, lean)


PROPORTION_COLUMNS = (("height_ratio", "height x"), ("hip_width_ratio", "hip width x"),
                      ("shoulder_width_ratio", "shoulder width x"), ("lean", "lean (deg)"))
"""``table --proportions``: predicted/true ratios and the spine angle (:mod:`poselift.proportions`)."""


def _nan(v) -> float:
    return math.nan if v is None else float(v)


def row_from_metrics(method: str, m: dict, source: str = "") -> Row:
    proto = m.get("protocol") if isinstance(m.get("protocol"), dict) else {}
    flip = m.get("flip_test", proto.get("flip_test"))
    notes = list(m.get("notes", []))
    if flip is not None:
        notes.append(f"flip test-time augmentation {'on' if flip else 'off'}.")
    return Row(method, _nan(m.get("mpjpe")), _nan(m.get("p_mpjpe")), _nan(m.get("mpjve")), _nan(m.get("n_mpjpe")),
               dict(m.get("per_action", {})), False, source, notes, str(m.get("dataset", proto.get("dataset", ""))),
               str(proto.get("name", "")), flip, dict(m.get("per_subject_action", {})),
               str((m.get("joints") or {}).get("label", "")), tuple((m.get("joints") or {}).get("data_joints", ())),
               dict(m.get("proportions", {})))


def rows_from_runs(run_dirs: Sequence[str | os.PathLike]) -> list[Row]:
    """One row per run folder; runs that share a name (e.g. one config trained twice) are told apart by their
    folder: ``name [folder]`` (as ``poselift figures`` names them)."""
    rows = [row_from_run(d) for d in run_dirs]
    names = [r.method for r in rows]
    return [dataclasses.replace(r, method=f"{r.method} [{Path(d).name}]") if names.count(r.method) > 1 else r
            for r, d in zip(rows, run_dirs)]


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


@dataclass(frozen=True)
class Anchor:
    """A published number, with how it was measured.

    Attributes:
        method, input2d, frames: what was measured (``frames``: the receptive field).
        p1, p2: Protocol 1 and 2 in mm (NaN when not published).
        source: where the number is published.
        dataset: the dataset (``"h36m"``).
        protocol: the protocol (:data:`ANCHOR_PROTOCOLS` says in words what each is).
        flip_test: flip test-time augmentation used (``None``: not stated).
    """

    method: str
    input2d: str
    frames: str
    p1: float
    p2: float
    source: str
    dataset: str = "h36m"
    protocol: str = "h36m-vp3d"
    flip_test: bool | None = True


ANCHOR_PROTOCOLS = {
    "h36m-vp3d": "VideoPose3D's own evaluation (S9+S11 without S11 Directions, raw output, flip test-time "
                 "augmentation)",
    "h36m-mmpose": "MMPose's evaluation of its VideoPose3D re-run: S11 Directions included, no flip test-time "
                   "augmentation",
    "h36m-martinez": "Martinez et al.'s evaluation (single frame, S9+S11; details as in their paper)",
}
"""The evaluation protocols published numbers were measured under (REFERENCE.md section 1 and its sources)."""

# Published Human3.6M numbers (S9+S11, mm) from REFERENCE.md section 1
ANCHORS: list[Anchor] = [
    Anchor("VideoPose3D", "GT 2D", "243", 37.2, 27.2, "VideoPose3D README"),
    Anchor("VideoPose3D", "CPN ft", "243", 46.8, 36.5, "VideoPose3D README"),
    Anchor("VideoPose3D", "CPN", "81", 47.7, 37.2, "VideoPose3D README"),
    Anchor("VideoPose3D", "CPN", "27", 48.8, 38.0, "VideoPose3D README"),
    Anchor("VideoPose3D", "CPN", "1", 51.8, 40.0, "paper, as aggregated", flip_test=None),
    Anchor("VideoPose3D", "Mask R-CNN", "243", 51.6, 40.3, "VideoPose3D README"),
    Anchor("VideoPose3D (MMPose re-run)", "GT 2D", "27", 40.1, 30.1, "MMPose model zoo", protocol="h36m-mmpose",
           flip_test=False),
    Anchor("VideoPose3D (MMPose re-run)", "GT 2D", "81", 39.1, 29.3, "MMPose model zoo", protocol="h36m-mmpose",
           flip_test=False),
    Anchor("VideoPose3D (MMPose re-run)", "GT 2D", "243", 37.6, 28.3, "MMPose model zoo", protocol="h36m-mmpose",
           flip_test=False),
    Anchor("VideoPose3D semi-sup., 10% S1", "GT 2D", "27", 65.2, math.nan, "VideoPose3D README"),
    Anchor("VideoPose3D supervised only, 10% S1", "GT 2D", "27", 80.7, math.nan, "VideoPose3D README"),
    Anchor("VideoPose3D semi-sup. (MMPose re-run)", "GT 2D", "27", 57.2, 42.4, "MMPose model zoo",
           protocol="h36m-mmpose", flip_test=False),
    Anchor("Martinez et al. 2017", "GT 2D", "1", 45.5, math.nan, "paper", protocol="h36m-martinez", flip_test=None),
]


def anchor_rows(filter_input: str | None = None, frames: Sequence[str] | None = None) -> list[Row]:
    """Published anchors as reference rows (optionally only one 2D input / some receptive fields).

    Each row's label says the 2D input and receptive field, and, where it was measured otherwise than
    VideoPose3D's protocol with flip test-time augmentation, how; its note names the protocol."""
    out = []
    for a in ANCHORS:
        if filter_input and filter_input.lower() not in a.input2d.lower():
            continue
        if frames and a.frames not in frames:
            continue
        how = ""
        if a.protocol != "h36m-vp3d" or a.flip_test is not True:
            flip = {True: "flip TTA", False: "no flip TTA", None: "flip TTA not stated"}[a.flip_test]
            how = f"; {a.protocol}, {flip}"
        out.append(Row(f"{a.method} [{a.input2d}, {a.frames} fr.{how}] (published)", a.p1, a.p2, reference=True,
                       source=a.source, notes=[f"{a.protocol}: {ANCHOR_PROTOCOLS[a.protocol]}."],
                       dataset=a.dataset, protocol=a.protocol, flip_test=a.flip_test))
    return out


def check_anchor_datasets(rows: Sequence[Row], anchors: Sequence[Row]) -> None:
    """Refuse published rows of one dataset next to measured rows of another.

    Raises:
        ValueError: naming the measured rows whose dataset differs from the anchors'.
    """
    if not anchors:
        return
    datasets = {a.dataset for a in anchors}
    other = [f"{r.method} ({r.dataset})" for r in rows if not r.reference and r.dataset and r.dataset not in datasets]
    if other:
        raise ValueError(f"the published rows are {', '.join(sorted(datasets))} numbers, but {', '.join(other)} "
                         f"{'is' if len(other) == 1 else 'are'} measured on another dataset: a table must not put them "
                         "side by side; leave out --anchors")


def _fmt(v: float, digits: int = 1) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def _row_notes(rows: Sequence[Row]) -> list[str]:
    """Notes of the rows, deduplicated; a note only some measured rows carry names them; the published rows'
    protocols follow, once each."""
    measured = [r for r in rows if not r.reference]
    out = []
    datasets = list(dict.fromkeys(r.dataset for r in measured if r.dataset))
    if len(datasets) == 1:
        out.append(f"Data: {datasets[0]}.")
    for d in datasets if len(datasets) > 1 else ():
        out.append(f"{', '.join(r.method for r in measured if r.dataset == d)}: data {d}.")
    for n in dict.fromkeys(n for r in measured for n in r.notes):
        having = [r.method for r in measured if n in r.notes]
        out.append(n if len(having) == len(measured) else f"{', '.join(having)}: {n}")
    published = list(dict.fromkeys(n for r in rows if r.reference for n in r.notes))
    out += [f"Published rows measured under {n}" for n in published]
    return out


BY = ("action", "subject,action")
METRIC_NAMES = {"p1": "mpjpe", "p2": "p_mpjpe", "n-mpjpe": "n_mpjpe", "mpjve": "mpjve"}
"""The breakdown's metric as ``table --metric`` spells it -> the key in ``metrics.json``."""
METRIC_LABELS = {"mpjpe": "P1", "p_mpjpe": "P2", "n_mpjpe": "N-MPJPE", "mpjve": "MPJVE"}


def _metric_key(metric: str) -> str:
    key = METRIC_NAMES.get(metric.lower(), metric)
    if key not in METRIC_LABELS:
        raise ValueError(f"metric must be one of {list(METRIC_NAMES)}, got {metric!r}")
    return key


def _breakdown(rows: Sequence[Row], by: str | None, metric: str = "p1") -> list[tuple[str, object]]:
    """``[(column label, getter row -> the metric in mm)]`` of the per-action or per-subject-and-action columns
    (``metric``: a name of :data:`METRIC_NAMES` or its ``metrics.json`` key)."""
    if by is None:
        return []
    key = _metric_key(metric)
    if by == "action":
        actions = sorted({a for r in rows for a in r.per_action})
        return [(a, lambda r, a=a: r.per_action.get(a, {}).get(key, math.nan)) for a in actions]
    if by == "subject,action":  # the HumanEva table: actions, and within each the subjects
        cells = sorted({(a, s) for r in rows for s, by_a in r.per_subject_action.items() for a in by_a})
        if not cells and any(not r.reference for r in rows):
            raise ValueError("--by subject,action needs metrics.json with per_subject_action (re-evaluate the runs "
                             "with this poselift: poselift evaluate RUN_DIR)")
        return [(f"{a} {s}", lambda r, a=a, s=s: r.per_subject_action.get(s, {}).get(a, {}).get(key, math.nan))
                for a, s in cells]
    raise ValueError(f"by must be one of {list(BY)}, got {by!r}")


def _joints_label(rows: Sequence[Row]) -> str:
    """The scored joints every measured row shares (a cross-dataset evaluation's label, "" for all joints);
    rows scored over different joints cannot share columns."""
    labels = {(r.joints, tuple(sorted(r.joint_set))) for r in rows if not r.reference}
    if len(labels) > 1:
        raise ValueError("the rows are scored over different joints (" + ", ".join(
            f"{r.method}: {r.joints or 'all joints'}" for r in rows if not r.reference) + "); tabulate them apart")
    label = labels.pop()[0] if labels else ""
    if label and any(r.reference for r in rows):
        raise ValueError(f"published rows are scored over all joints, the measured ones over {label}: leave out "
                         "--anchors")
    return label


def render_table(rows: Sequence[Row], fmt: str = "md", per_action: bool = False, caption: str | None = None,
                 notes: Sequence[str] = (), by: str | None = None, metric: str = "p1",
                 proportions: bool = False) -> str:
    """Render rows as ``"md"``, ``"latex"`` (booktabs) or ``"csv"``.

    Columns: Protocol 1, Protocol 2, velocity error (MPJVE), N-MPJPE; ``proportions``: then the body-proportion
    columns of :data:`PROPORTION_COLUMNS` (``–`` for a run evaluated before they were measured: re-evaluate it);
    then ``metric`` (``"p1"``, ``"p2"``, ``"n-mpjpe"``, ``"mpjve"``) per action (``by="action"``, or
    ``per_action=True``) or per action and subject (``by="subject,action"``, the HumanEva convention;
    VideoPose3D's HumanEva table is Protocol 2). Reference rows are marked "(published)" and, in
    Markdown/LaTeX, set in italics.
    Notes (deduplicated across rows) follow the table; a note that only some rows carry names them.
    """
    if fmt not in ("md", "latex", "csv"):
        raise ValueError(f"format must be md, latex or csv, got {fmt!r}")
    columns = _breakdown(rows, by or ("action" if per_action else None), metric)
    key = _metric_key(metric)
    label = METRIC_LABELS[key]
    joints = _joints_label(rows)
    unit = f" ({joints}, mm)" if joints else " (mm)"
    props = PROPORTION_COLUMNS if proportions else ()
    header = ["Method", f"P1{unit}", f"P2{unit}", f"MPJVE{unit}", f"N-MPJPE{unit}"] + [name for _, name in props] + \
        [f"{c} {label}" for c, _ in columns]
    all_notes = list(dict.fromkeys([*notes, *_row_notes(rows)]))

    def cells(r: Row) -> list[str]:
        vals = [_fmt(r.mpjpe), _fmt(r.p_mpjpe), _fmt(r.mpjve, 2), _fmt(r.n_mpjpe)]
        vals += [_fmt(_nan(r.proportions.get(k)), 1 if k == "lean" else 2) for k, _ in props]
        vals += [_fmt(get(r), 2 if key == "mpjve" else 1) for _, get in columns]
        return vals

    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["method", "reference", "mpjpe_mm", "p_mpjpe_mm", "mpjve_mm", "n_mpjpe_mm", "source", "dataset",
                    "protocol", "flip_test", "joints"] + [k for k, _ in props] + [f"{key}_mm:{c}" for c, _ in columns])
        for r in rows:
            w.writerow([r.method, int(r.reference), r.mpjpe, r.p_mpjpe, r.mpjve, r.n_mpjpe, r.source, r.dataset,
                        r.protocol, "" if r.flip_test is None else int(r.flip_test), r.joints or "all"]
                       + [_nan(r.proportions.get(k)) for k, _ in props] + [get(r) for _, get in columns])
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
