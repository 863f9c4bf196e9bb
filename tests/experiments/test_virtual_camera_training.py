"""``data.virtual_cameras`` in training: recorded in the run, both normalisations, clear refusals."""
import dataclasses
import json

import numpy as np
import pytest

from poselift.core.errors import ConfigError
from poselift.datasets.virtual_cameras import CameraDistribution
from poselift.experiments.config import config_from_dict, dump_config, load_config


def _config(normalization="image", **vc):
    from poselift.experiments.config import DataConfig, EvalConfig, ExperimentConfig, ModelConfig, SyntheticConfig
    from poselift.training.trainer import TrainSettings

    return ExperimentConfig(
        name="vc", seed=0, device="cpu",
        data=DataConfig(dataset="synthetic", path=None, normalization=normalization,
                        synthetic=SyntheticConfig(subjects=1, test_subjects=1, num_frames=60, test_num_frames=40,
                                                  motions=["walk", "box"]),
                        virtual_cameras=CameraDistribution(**vc)),
        model=ModelConfig(widths=[3], channels=8),
        train=TrainSettings(epochs=1, batch_size=64, progress=False),
        eval=EvalConfig(eval_every=0),
    )


@pytest.mark.slow
@pytest.mark.parametrize("normalization", ["image", "torso"])
def test_training_with_virtual_cameras_records_them(tmp_path, normalization):
    from poselift.experiments.train_eval import train_run

    cfg = _config(normalization, enabled=True, fraction=0.5, chunk_frames=30, noise={"jitter": 2.0})
    metrics = train_run(cfg, tmp_path / "run", progress=False)
    assert np.isfinite(metrics["mpjpe"]) and "hip_width_ratio" in metrics["proportions"]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    vc = info["virtual_cameras"]
    assert vc["cameras"] >= 2 and vc["fraction_reprojected"] >= 0.5 and vc["seed"] == 0
    assert vc["frames"] == info["train_windows"]  # every frame is a window, re-filmed or not
    saved = load_config(tmp_path / "run" / "config.yaml")
    assert saved.data.virtual_cameras.enabled and saved.data.virtual_cameras.chunk_frames == 30
    assert saved.data.virtual_cameras.noise == {"jitter": 2.0}
    if normalization != "image":
        return
    # the same checkpoint under the novel-views protocol: its own folder, metrics.json untouched
    from poselift.commands import main

    before = (tmp_path / "run" / "metrics.json").read_text()
    assert main(["evaluate", str(tmp_path / "run"), "--protocol", "h36m-novel-views", "--no-progress"]) == 0
    novel = json.loads((tmp_path / "run" / "protocols" / "h36m-novel-views" / "metrics.json").read_text())
    assert (tmp_path / "run" / "metrics.json").read_text() == before
    assert novel["protocol"]["name"] == "h36m-novel-views" and len(novel["protocol"]["test_views"]) == 8
    assert novel["frames"] == 8 * metrics["frames"] // 4  # one take per 4 real cameras, then 8 views of it
    assert main(["table", str(tmp_path / "run"), str(tmp_path / "run" / "protocols" / "h36m-novel-views"),
                 "--proportions"]) == 0
    assert main(["evaluate", str(tmp_path / "run"), "--protocol", "nope"]) == 1


def test_disabled_by_default_and_refused_where_it_cannot_work():
    cfg = config_from_dict({"data": {"dataset": "synthetic"}})
    assert not cfg.data.virtual_cameras.enabled  # VideoPose3D's protocol unchanged
    assert "virtual_cameras:\n    enabled: false" in dump_config(cfg)
    with pytest.raises(ConfigError, match="keypoints: gt"):
        config_from_dict({"data": {"dataset": "h36m", "keypoints": "sh", "virtual_cameras": {"enabled": True}}})
    with pytest.raises(ConfigError, match="data.virtual_cameras.fov"):
        config_from_dict({"data": {"dataset": "synthetic", "virtual_cameras": {"fov": [10, 200]}}})
    from poselift.experiments.train_eval import _virtual_cameras

    cfg = _config(enabled=True)
    with pytest.raises(ConfigError, match="per_camera"):
        _virtual_cameras([], [(0, 10)], cfg)
    seqs, report = _virtual_cameras([], None, dataclasses.replace(cfg))
    assert seqs == [] and report["cameras"] == 0
