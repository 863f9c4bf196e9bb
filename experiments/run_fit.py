"""Does this run fit this data: the one place that says whether a run folder's model can take some 2D.

* :func:`check_input_layout`: a 2D file (``lift``, ``compare --input``, ``figures --input``, ``video``): its
  layout must convert to the run's input layout; the refusal names the layouts the file can feed, the runs
  beside this one that take them, and the configs or imports that make such a run.
* :func:`check_run_fits_data`: a dataset's test split (``evaluate``): the same layout, and the normalisation
  the checkpoint was trained with.
* :func:`run_input_layout`: a run folder's input layout read cheaply (no checkpoint loading).
"""
from __future__ import annotations

import os
from pathlib import Path

from poselift.checkpoint import CHECKPOINT
from poselift.core.layouts import get_layout
from poselift.datasets.h36m.constants import KEYPOINT_LAYOUTS
from poselift.inference import Lifter

__all__ = ["check_input_layout", "check_run_fits_data", "run_input_layout", "CONFIGS_FOR_LAYOUT"]


CONFIGS_FOR_LAYOUT = {
    "h36m17": "experiments/configs/h36m_gt_*.yaml (Human3.6M ground-truth 2D), or `poselift import` of "
              "VideoPose3D's ground-truth/CPN checkpoints with --layout h36m17",
    "mpii16": "experiments/configs/h36m_sh_*.yaml (Human3.6M Stacked Hourglass detections)",
    "coco17": "`poselift import` of VideoPose3D's Detectron COCO checkpoint (pretrained_h36m_detectron_coco.bin) "
              "with --layout coco17",
}
"""Where a run taking each 2D layout comes from (named when a file's layout does not fit a run)."""


def run_input_layout(run_dir: str | os.PathLike) -> str | None:
    """The 2D layout a run folder's model takes, read cheaply (no checkpoint loading): ``run.json``'s
    declared layout (imported runs), else the config's data (``keypoints: sh`` -> mpii16, else h36m17);
    ``None`` when neither says."""
    import yaml

    from poselift.core.io import read_json, read_yaml

    run_dir = Path(run_dir)
    try:
        if (run_dir / "run.json").exists():
            declared = (read_json(run_dir / "run.json").get("declared") or {}).get("layout_in")
            if declared:
                return str(declared)
        if (run_dir / "config.yaml").exists():
            data = (read_yaml(run_dir / "config.yaml") or {}).get("data") or {}
            if data.get("dataset", "h36m") not in ("h36m", "synthetic"):
                return None  # another dataset: its layout is in the checkpoint, not cheaply in the config
            return KEYPOINT_LAYOUTS.get(data.get("keypoints", "gt"), "h36m17")
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return None
    return None


def _candidate_runs(near: Path, limit: int = 200) -> list[Path]:
    """Run folders beside ``near`` (its siblings, and their sub-folders one level down), at most ``limit``."""
    out: list[Path] = []
    parent = near.parent
    try:
        for d in sorted(parent.iterdir()):
            if len(out) >= limit:
                break
            if d.is_dir() and d != near:
                if (d / CHECKPOINT).exists():
                    out.append(d)
                else:
                    out += [s for s in sorted(d.iterdir()) if s.is_dir() and (s / CHECKPOINT).exists()][:10]
    except OSError:
        pass
    return out[:limit]


def check_input_layout(file_layout: str, lifter: Lifter, what: str = "the 2D file") -> None:
    """Refuse a run whose input layout cannot be reached from ``file_layout``, naming what would fit.

    Raises:
        LayoutError: with the layouts the file can feed, the run folders beside ``lifter.run_dir`` that take
            one of them, and the configs / imports that make such a run.
    """
    from poselift.core.errors import LayoutError
    from poselift.core.layouts import get_layout, reachable, reachable_from

    src, dst = get_layout(file_layout).name, lifter.layout_in.name
    if reachable(src, dst):
        return
    targets = reachable_from(src)
    runs = []
    if lifter.run_dir is not None:
        for d in _candidate_runs(Path(lifter.run_dir)):
            lay = run_input_layout(d)
            if lay in targets:
                runs.append(f"{d} ({lay})")
    fits = [f"{t}: {CONFIGS_FOR_LAYOUT[t]}" for t in targets if t in CONFIGS_FOR_LAYOUT]
    raise LayoutError(
        f"{what} has {src} keypoints, but {lifter.run_dir or 'this run'} takes {dst} input and {src} cannot be "
        f"converted to {dst}. {src} feeds runs taking {targets}. "
        + (f"Runs here that fit: {', '.join(runs[:8])}. " if runs else "No run beside it fits. ")
        + ("Runs that fit come from " + "; ".join(fits) + "." if fits else "")
    )


def check_run_fits_data(lifter: Lifter, data_layout: str, normalization: str, run_dir) -> None:
    """Refuse to evaluate a checkpoint on data it was not made for (another 2D layout, another normalisation):
    two 17-joint layouts (coco17, h36m17) would otherwise run silently into a wrong result."""
    if lifter.layout_in.name != get_layout(data_layout).name:
        raise ValueError(f"{run_dir}: the model takes {lifter.layout_in.name} 2D input, but its config's test data "
                         f"gives {get_layout(data_layout).name} (data.keypoints); evaluate it on data in its layout")
    if lifter.normalization != normalization:
        raise ValueError(f"{run_dir}: the checkpoint normalises its input by {lifter.normalization!r}, its config.yaml "
                         f"says data.normalization {normalization!r}")
