"""poselift.detectors loads its ONNX detectors (and ONNX Runtime) only when they are used."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from helpers import REPO

HEAVY = ("onnxruntime", "poselift.detectors.runtime", "poselift.detectors.bodyposenet",
         "poselift.detectors.bodypose3dnet", "poselift.detectors.pipeline")

SCRIPT = """
import sys
from poselift.detectors import read_2d
data = read_2d(sys.argv[1])
assert len(data.tracks) == 1 and data.tracks[0].keypoints.shape == (6, 17, 2), data
print(sorted(m for m in {heavy!r} if m in sys.modules))
import poselift.detectors as d
d.BodyPoseNet  # the names are all still there, loaded on first use
print(sorted(m for m in {heavy!r} if m in sys.modules))
"""


def test_reading_a_2d_file_does_not_import_the_onnx_detectors(tmp_path):
    base = np.random.default_rng(0).uniform(200, 400, (17, 2))  # one person walking slowly to the right
    frames = [{"frame_id": i, "instances": [{"keypoints": (base + [3 * i, 0]).tolist(),
                                             "keypoint_scores": [0.9] * 17}]} for i in range(6)]
    path = tmp_path / "mm.json"
    path.write_text(json.dumps({"instance_info": frames}))
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(heavy=HEAVY), str(path)], capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    before, after = out.stdout.strip().splitlines()[-2:]
    assert before == "[]"
    assert "poselift.detectors.bodyposenet" in after
