"""The notebooks run top to bottom in their small mode (``POSELIFT_NOTEBOOK_SMALL=1``) without a cell error.

Each notebook is executed with nbclient in a kernel that runs this very
interpreter (a kernelspec for ``sys.executable`` installed into a temporary
folder on ``JUPYTER_PATH``), with a temporary working directory and
``POSELIFT_NOTEBOOK_OUT`` pointing into it: nothing is written into the
repository. ``02_human36m.ipynb`` trains and evaluates a tiny model on the real
data when ``../shared/data/h36m`` (relative to the repository root) exists,
and must print its guidance and skip the rest when the data is absent.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from helpers import REPO, h36m_path

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = REPO / "notebooks"
NAMES = ["01_quickstart.ipynb", "02_human36m.ipynb", "03_video_to_3d.ipynb"]
H36M = h36m_path()
KERNEL = "poselift-tests"
USER_SETTINGS = ("POSELIFT_H36M", "POSELIFT_VIDEO", "POSELIFT_DETECTOR_MODEL", "POSELIFT_DETECTOR",
                 "POSELIFT_BOX_MODEL", "POSELIFT_BOXES", "POSELIFT_RUNS", "POSELIFT_KEYPOINTS", "POSELIFT_READ_OPTIONS",
                 "POSELIFT_RUN_A", "POSELIFT_RUN_B")


@pytest.fixture(scope="session")
def kernel_name(tmp_path_factory):
    """A kernelspec whose kernel runs ``sys.executable`` (this venv), found through ``JUPYTER_PATH``."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "poselift tests", "language": "python",
    }))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(root), *([old] if old else [])])
    yield KERNEL
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


def _outputs(nb) -> str:
    """All text the executed notebook showed (streams, markdown, plain text)."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                for mime in ("text/markdown", "text/plain"):
                    if mime in out["data"]:
                        parts.append(out["data"][mime])
    return "\n".join(parts)


def _mimes(nb) -> list[str]:
    return [m for c in nb.cells for o in c.get("outputs", []) if "data" in o for m in o["data"]]


def _run(name: str, kernel: str, tmp_path: Path, monkeypatch, **env: str):
    """Execute notebook ``name`` in small mode; a cell error fails the test (CellExecutionError)."""
    for key in USER_SETTINGS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("POSELIFT_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("POSELIFT_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("POSELIFT_THREADS", "1")  # tiny models: one thread is fastest, and a busy CI stays fast
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.name for p in NOTEBOOKS.iterdir())
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name=kernel, resources={"metadata": {"path": str(work)}})
    client.execute()
    assert sorted(p.name for p in NOTEBOOKS.iterdir()) == before  # nothing written next to the notebooks
    return nb


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_clean(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)  # stored without outputs
    assert "POSELIFT_NOTEBOOK_SMALL" in "".join(c.source for c in code)


@pytest.mark.slow
def test_quickstart(kernel_name, tmp_path, monkeypatch):
    from PIL import Image

    nb = _run("01_quickstart.ipynb", kernel_name, tmp_path, monkeypatch)
    text = _outputs(nb)
    assert "| single-frame (rf 1) |" in text and "| temporal (rf 9) |" in text  # the comparison table
    assert _mimes(nb).count("image/png") == 2 and "image/gif" in _mimes(nb)  # two figures and the animation
    out = tmp_path / "out"
    for run in ("single_frame", "temporal"):
        assert (out / run / "metrics.json").exists() and (out / run / "checkpoint.pt").exists()
    with Image.open(out / "quickstart.gif") as im:
        assert im.n_frames == 6 and im.size == (4 * 240, 264)  # 2D + single-frame + temporal + ground truth


@pytest.mark.slow
@pytest.mark.h36m
@pytest.mark.skipif(not H36M.exists(), reason="Human3.6M not at ../shared/data/h36m")
def test_human36m_with_data(kernel_name, tmp_path, monkeypatch):
    from poselift.core.io import read_json

    nb = _run("02_human36m.ipynb", kernel_name, tmp_path, monkeypatch, POSELIFT_H36M=str(H36M))
    text = _outputs(nb)
    assert "Human3.6M found" in text and "skipped" not in text
    assert "S9 'Discussion 1' has no 3D" in text  # the missing-data note
    metrics = read_json(tmp_path / "out" / "h36m_gt_27_notebook_small" / "metrics.json")
    assert metrics["actions"] == 15 and metrics["per_action"].keys() >= {"Walking", "Directions", "SittingDown"}
    assert 0 < metrics["p_mpjpe"] < metrics["mpjpe"]
    assert "| **average** |" in text and "Protocol 2" in text
    assert _mimes(nb).count("image/png") == 3  # one example frame, P1 and P2 per action


@pytest.mark.slow
def test_human36m_without_data(kernel_name, tmp_path, monkeypatch):
    nb = _run("02_human36m.ipynb", kernel_name, tmp_path, monkeypatch, POSELIFT_H36M=str(tmp_path / "no-h36m"))
    text = _outputs(nb)
    assert "Human3.6M was not found" in text
    for hint in ("POSELIFT_H36M=/path/to/h36m", "poselift prepare h36m", "vision.imar.ro", "../../shared/data/h36m"):
        assert hint in text
    assert text.count("skipped: no Human3.6M data") == sum(
        1 for c in nb.cells if c.cell_type == "code" and "if HAVE_DATA:" in c.source and "found" not in c.source)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_video_to_3d(kernel_name, tmp_path, monkeypatch):
    from PIL import Image

    from poselift.detectors.formats import read_keypoints_h5
    from poselift.viz.video import probe_video

    nb = _run("03_video_to_3d.ipynb", kernel_name, tmp_path, monkeypatch)
    text = _outputs(nb)
    assert "2 track(s)" in text and "stand-in" in text
    assert "| temporal lifter (rf 9) |" in text and "no ground truth" in text  # agreement + smoothness table
    out = tmp_path / "out"
    assert probe_video(out / "clip.mp4").num_frames == 24
    tracks = read_keypoints_h5(out / "keypoints.h5")
    assert tracks.layout == "bodypose3dnet34" and len(tracks.tracks) == 2
    with Image.open(out / "video_to_3d.gif") as im:
        assert im.n_frames == 6


@pytest.mark.slow
def test_video_to_3d_from_existing_2d_and_any_two_runs(kernel_name, tmp_path, monkeypatch):
    """Notebook 03 without a detector: an MMPose JSON (COCO-17) and two run folders of different input layouts."""
    import numpy as np
    import torch
    from helpers import randomised
    from PIL import Image

    from poselift.checkpoint import lifter_payload, save_checkpoint
    from poselift.model.tcn import TemporalLifter

    rng = np.random.default_rng(0)
    base = rng.uniform(0, 150, (17, 2))
    frames = [{"frame_id": i, "instances": [{"keypoints": (base + [200 + 2 * i, 100]).tolist(),
                                             "keypoint_scores": [0.9] * 17}]} for i in range(30)]
    keypoints = tmp_path / "mmpose.json"
    keypoints.write_text(json.dumps({"instance_info": frames}))
    runs = {}
    for name, layout, widths in (("vp3d_coco", "coco17", (3, 3)), ("gt_single", "h36m17", (1,))):
        torch.manual_seed(0)
        model = randomised(TemporalLifter(17, 17, widths, channels=16))
        d = tmp_path / "runs" / name
        d.mkdir(parents=True)
        save_checkpoint(lifter_payload(model, layout, "h36m17", extra={"flip_test": True}), d / "checkpoint.pt")
        (d / "run.json").write_text(json.dumps({"declared": {"layout_in": layout}}))
        runs[name] = d
    nb = _run("03_video_to_3d.ipynb", kernel_name, tmp_path, monkeypatch, POSELIFT_KEYPOINTS=str(keypoints),
              POSELIFT_READ_OPTIONS=json.dumps({"image_size": [640, 480], "fps": 25}),
              POSELIFT_RUN_A=str(runs["vp3d_coco"]), POSELIFT_RUN_B=str(runs["gt_single"]))
    text = _outputs(nb)
    assert "1 track(s), layout coco17" in text and "stand-in" not in text.split("mode:")[1].split("\n")[0]
    assert "| vp3d_coco: temporal lifter (rf 9) |" in text and "gt_single: single-frame lifter (rf 1)" in text
    assert "coco17 input" in text and "h36m17 input" in text
    with Image.open(tmp_path / "out" / "video_to_3d.gif") as im:
        assert im.n_frames == 6 and im.size == (480, 270)
