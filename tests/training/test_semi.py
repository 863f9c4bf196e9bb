"""Semi-supervised training: back-projection, trajectory, bone lengths, warm-up."""
import numpy as np
import pytest
import torch

import poselift.training.trainer as train_mod
from poselift.core.camera import project_intrinsics
from poselift.core.layouts import H36M17, MPII16, correspondence
from poselift.core.mirror import flip_intrinsics
from poselift.datasets.synthetic import NoiseSettings, make_dataset
from poselift.model.tcn import TemporalLifter
from poselift.training.losses import bone_length_loss, reprojection_loss
from poselift.training.trainer import Trainer, TrainSettings
from poselift.training.window_bank import WindowBank


@pytest.fixture(scope="module")
def clean():
    return make_dataset(subjects=1, motions=["walk", "box"], num_frames=40, seed=5, noise=NoiseSettings.clean())


def test_gt_pose_plus_gt_trajectory_reprojects_onto_gt_2d(clean):
    for s in clean:
        assert np.abs(s.camera.k).max() > 0.1  # a distorted camera
        pose = torch.from_numpy(s.root_relative_3d()).double()
        traj = torch.from_numpy(s.trajectory()).double()
        intr = torch.from_numpy(s.camera.intrinsics()).double().expand(len(s), 9)
        target = torch.from_numpy(s.normalized_keypoints()).double()
        proj = project_intrinsics(pose + traj[:, None], intr)
        assert (proj - target).abs().max().item() < 1e-4
        assert reprojection_loss(pose, traj, intr, target).item() < 1e-4
        # the mirrored view is consistent too (flip augmentation of unlabelled data)
        mpose, mtraj = pose * torch.tensor([-1.0, 1, 1]), traj * torch.tensor([-1.0, 1, 1])
        mt = target[:, H36M17.flip_permutation] * torch.tensor([-1.0, 1])
        mpose = mpose[:, H36M17.flip_permutation]
        assert reprojection_loss(mpose, mtraj, flip_intrinsics(intr), mt).item() < 1e-4


def test_reprojection_compares_only_corresponding_joints(clean):
    s = clean[0]
    pose = torch.from_numpy(s.root_relative_3d()).double()
    traj = torch.from_numpy(s.trajectory()).double()
    intr = torch.from_numpy(s.camera.intrinsics()).double().expand(len(s), 9)
    h36m2d = torch.from_numpy(s.normalized_keypoints()).double()
    src, dst = correspondence("mpii16", "h36m17")
    mpii2d = torch.zeros(len(s), 16, 2, dtype=torch.float64)
    mpii2d[:, src] = h36m2d[:, dst]  # a 16-joint detector that is exactly right
    assert reprojection_loss(pose, traj, intr, mpii2d, (src, dst)).item() < 1e-4
    with pytest.raises(ValueError, match="correspondence"):
        reprojection_loss(pose, traj, intr, mpii2d)
    # comparing joints by index (the VideoPose3D issue #165 mistake) would be far off
    wrong = (np.arange(16), np.arange(16))
    assert reprojection_loss(pose, traj, intr, mpii2d, wrong).item() > 0.05
    # every pair joins joints of the same name: SH joint 7 is the thorax, and nothing is paired with the spine
    assert [MPII16.joints[i] for i in src] == [H36M17.joints[j] for j in dst]
    assert H36M17.joints.index("spine") not in list(dst) and len(src) == 15


def test_bone_length_term():
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.normal(size=(8, 17, 3)))
    assert bone_length_loss(a, a.clone(), H36M17.parents).item() == pytest.approx(0.0, abs=1e-12)
    # same skeletons rotated/translated: still zero; scaled: mean bone length difference
    assert bone_length_loss(a, a + 3.0, H36M17.parents).item() == pytest.approx(0.0, abs=1e-12)
    b = 1.5 * a
    lens = torch.linalg.vector_norm(a[:, 1:] - a[:, list(H36M17.parents[1:])], dim=-1).mean(0)
    assert bone_length_loss(a, b, H36M17.parents).item() == pytest.approx(0.5 * lens.mean().item())


def _semi_trainer(seqs, warmup=1, epochs=2, **kw):
    torch.manual_seed(0)
    pose = TemporalLifter(17, 17, (3,), channels=16)
    traj = TemporalLifter(17, 1, (3,), channels=16)
    lab = WindowBank([s.inputs() for s in seqs[:2]], 3, targets=[s.root_relative_3d() for s in seqs[:2]],
                     trajectories=[s.trajectory() for s in seqs[:2]])
    unl = WindowBank([s.inputs() for s in seqs[2:]], 3, intrinsics=[s.camera.intrinsics() for s in seqs[2:]])
    st = TrainSettings(epochs=epochs, batch_size=16, warmup_epochs=warmup, progress=False, **kw)
    return Trainer(pose, lab, st, "h36m17", "h36m17", traj_model=traj, unlabelled=unl, device="cpu")


def test_reprojection_gradients_reach_pose_and_trajectory_models(clean):
    tr = _semi_trainer(clean)
    idx = torch.arange(16)
    losses = tr.compute_losses(idx, tr.unlabelled.sample(16))
    assert {"pose", "traj", "proj", "bone"} <= set(losses)
    tr.optimizer.zero_grad()
    losses["proj"].backward()
    for model in (tr.model, tr.traj_model):
        g = sum(p.grad.abs().sum().item() for p in model.parameters() if p.grad is not None)
        assert g > 0


def test_no_unlabelled_terms_during_warm_up(clean, monkeypatch):
    calls = []
    real = train_mod.reprojection_loss

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "reprojection_loss", spy)
    tr = _semi_trainer(clean, warmup=2, epochs=2)
    hist = tr.fit()
    assert not calls and all("loss_proj" not in h for h in hist)
    tr = _semi_trainer(clean, warmup=1, epochs=2)
    hist = tr.fit()
    assert calls and "loss_proj" not in hist[0] and hist[1]["loss_proj"] > 0 and hist[1]["loss_bone"] >= 0


def test_semi_supervised_needs_cameras_and_a_trajectory_model(clean):
    pose = TemporalLifter(17, 17, (3,), channels=8)
    lab = WindowBank([s.inputs() for s in clean[:1]], 3, targets=[s.root_relative_3d() for s in clean[:1]])
    unl = WindowBank([s.inputs() for s in clean[1:]], 3)
    with pytest.raises(ValueError, match="trajectory model"):
        Trainer(pose, lab, TrainSettings(epochs=1), "h36m17", "h36m17", unlabelled=unl)
    traj = TemporalLifter(17, 1, (3,), channels=8)
    lab = WindowBank([s.inputs() for s in clean[:1]], 3, targets=[s.root_relative_3d() for s in clean[:1]],
                     trajectories=[s.trajectory() for s in clean[:1]])
    with pytest.raises(ValueError, match="intrinsics"):
        Trainer(pose, lab, TrainSettings(epochs=1), "h36m17", "h36m17", traj_model=traj, unlabelled=unl)


def _write_track_file(path, seqs):
    from poselift.detectors.formats import KeypointTracks, write_keypoints_h5
    from poselift.detectors.tracking import Track

    tracks = []
    for i, s in enumerate(seqs):
        t = len(s)
        tracks.append(Track(i, np.arange(t), s.keypoints, s.confidence, np.zeros((t, 17), bool), np.ones(t, bool)))
    write_keypoints_h5(path, KeypointTracks(tracks, "h36m17", (1000, 1000), 50.0, max(len(s) for s in seqs),
                                            source="test"))


def test_semi_supervised_on_custom_videos_with_default_or_given_intrinsics(tmp_path):
    """Unlabelled data that is not Human3.6M: 2D files of 'your own videos' plus intrinsics (or the default)."""
    import csv

    from poselift.experiments.config import (
        DataConfig,
        EvalConfig,
        ExperimentConfig,
        ModelConfig,
        SyntheticConfig,
    )
    from poselift.experiments.data import custom_unlabelled, load_splits
    from poselift.experiments.train_eval import train_run

    videos = make_dataset(subjects=1, motions=["walk", "squat"], num_frames=60, seed=9)
    _write_track_file(tmp_path / "my_video.h5", videos[::4])
    cfg = ExperimentConfig(
        name="custom-semi", seed=0, device="cpu",
        data=DataConfig(dataset="synthetic", path=None, train_subjects=[], test_subjects=[],
                        synthetic=SyntheticConfig(subjects=1, test_subjects=1, num_frames=60, test_num_frames=60,
                                                  motions=["walk", "squat"]),
                        unlabelled_files=[str(tmp_path / "my_video.h5")]),
        model=ModelConfig(widths=[3], channels=16),
        train=TrainSettings(epochs=2, batch_size=32, warmup_epochs=1, progress=False),
        eval=EvalConfig(eval_every=0),
    )
    assert cfg.semi_supervised
    unl = custom_unlabelled(cfg, "h36m17")
    assert len(unl) == 2 and all(s.poses3d is None for s in unl)
    np.testing.assert_allclose(unl[0].camera.f, [1150, 1150])  # documented default: 1.15 x width
    np.testing.assert_allclose(unl[0].camera.c, [500, 500])
    metrics = train_run(cfg, tmp_path / "run", progress=False)
    assert metrics["mpjpe"] > 0
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert rows[0]["loss_proj"] == "" and float(rows[1]["loss_proj"]) > 0
    # the user's intrinsics, when given, are the ones used
    cam = videos[0].camera
    cfg.data.unlabelled_camera = {"f": cam.f.tolist(), "c": cam.c.tolist(), "k": cam.k.tolist(), "p": cam.p.tolist()}
    unl = load_splits(cfg).unlabelled
    np.testing.assert_allclose(unl[0].camera.intrinsics(), cam.intrinsics())
    cfg.data.unlabelled_camera = {"focal": 3}
    with pytest.raises(ValueError, match="unlabelled_camera"):
        custom_unlabelled(cfg, "h36m17")
