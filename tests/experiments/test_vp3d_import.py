"""VideoPose3D checkpoints into run folders: the key mapping (outputs equal to an independent implementation of
the published architecture, under VideoPose3D's own key names), loading without running code, clear refusals, and
a checkpoint written by VideoPose3D's own run.py evaluated as VideoPose3D evaluated it (test_vp3d_fixture.py)."""
from __future__ import annotations

import os
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import randomised

from poselift.core.errors import FileFormatError, InputError
from poselift.experiments.vp3d_import import import_vp3d, read_vp3d_checkpoint
from poselift.inference import load_lifter


class VP3DTemporalModel(torch.nn.Module):
    """VideoPose3D's ``TemporalModel`` as its common/model.py names its modules (written from the paper and
    REFERENCE.md section 2, not from poselift): ``expand_conv`` (no bias), ``expand_bn`` (BatchNorm, momentum
    0.1), per block ``layers_conv.{2i}`` (kernel ``w_i``, dilated; no bias) / ``layers_bn.{2i}`` and
    ``layers_conv.{2i+1}`` (1x1, no bias) / ``layers_bn.{2i+1}``, then ``shrink`` (1x1, with bias). Its
    ``state_dict()`` keys are therefore the keys a VideoPose3D checkpoint holds (``num_batches_tracked``
    included); its forward pass is :func:`reference_forward`. The trajectory model is the same class with one
    output joint."""

    def __init__(self, j_in: int, features: int, j_out: int, widths, channels: int, causal: bool = False):
        super().__init__()
        nn = torch.nn
        self.causal, self.receptive_field = causal, int(np.prod(widths))
        self.expand_conv = nn.Conv1d(j_in * features, channels, widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        convs, bns, dilation = [], [], widths[0]
        for w in widths[1:]:
            convs += [nn.Conv1d(channels, channels, w, dilation=dilation, bias=False),
                      nn.Conv1d(channels, channels, 1, bias=False)]
            bns += [nn.BatchNorm1d(channels, momentum=0.1), nn.BatchNorm1d(channels, momentum=0.1)]
            dilation *= w
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)
        self.shrink = nn.Conv1d(channels, j_out * 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, J_in, 2)`` -> ``(B, T - rf + 1, J_out, 3)`` (eval-mode BatchNorm)."""
        return reference_forward(self.state_dict(keep_vars=True), x, self.causal)


def reference_lift(model: VP3DTemporalModel, seq: np.ndarray, flip_perms=None) -> np.ndarray:
    """Whole-sequence lifting as VideoPose3D evaluates: the sequence padded by repeating its edge frames
    (``rf // 2`` each side, or ``rf - 1`` before when causal), then the mirrored prediction (x negated, left and
    right swapped), un-mirrored, averaged in when ``flip_perms`` are given. ``(T, J_in, 2)`` -> ``(T, J_out, 3)``."""
    rf = model.receptive_field
    before = rf - 1 if model.causal else rf // 2
    x = torch.as_tensor(np.pad(seq, ((before, rf - 1 - before), (0, 0), (0, 0)), mode="edge"))[None]
    with torch.no_grad():
        y = model(x)[0]
        if flip_perms is not None:
            xf = x[:, :, list(flip_perms[0])].clone()
            xf[..., 0] *= -1
            yf = model(xf)[0][:, list(flip_perms[1])].clone()
            yf[..., 0] *= -1
            y = (y + yf) / 2
    return y.numpy()


def vp3d_keys(n_blocks: int) -> list[str]:
    """The state-dict keys VideoPose3D's model has with ``n_blocks`` residual blocks, spelled out by hand."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["expand_conv.weight", *(f"expand_bn.{k}" for k in bn), "shrink.weight", "shrink.bias"]
    for i in range(2 * n_blocks):
        keys += [f"layers_conv.{i}.weight", *(f"layers_bn.{i}.{k}" for k in bn)]
    return sorted(keys)


def vp3d_checkpoint(path, widths=(3, 3, 3), j_in=17, j_out=17, channels=32, causal=False, traj=True,
                    legacy=False, seed=0, extra=None):
    """Write a checkpoint in exactly VideoPose3D's layout (the keys its run.py saves: epoch, lr, random_state (a
    numpy RandomState), optimizer (an Adam state), model_pos, model_traj (a state dict of the same class with
    one output joint, or None), random_state_semi); returns the reference models whose weights it holds."""
    torch.manual_seed(seed)
    pos = randomised(VP3DTemporalModel(j_in, 2, j_out, widths, channels, causal), seed=seed)
    tr = randomised(VP3DTemporalModel(j_in, 2, 1, widths, channels, causal), seed=seed + 1) if traj else None
    assert sorted(pos.state_dict()) == vp3d_keys(len(widths) - 1)  # the reference really has VideoPose3D's keys
    assert tr is None or sorted(tr.state_dict()) == vp3d_keys(len(widths) - 1)
    opt = torch.optim.Adam(pos.parameters(), lr=1e-3, amsgrad=True)
    pos(torch.randn(2, pos.receptive_field + 2, j_in, 2)).sum().backward()
    opt.step()  # a real optimizer state: tensors per parameter
    state = {"epoch": 80, "lr": 0.00095, "random_state": np.random.RandomState(1234),
             "optimizer": opt.state_dict(), "model_pos": pos.state_dict(),
             "model_traj": tr.state_dict() if traj else None,
             "random_state_semi": np.random.RandomState(5) if traj else None, **(extra or {})}
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return pos, tr


def reference_forward(sd: dict, x: torch.Tensor, causal: bool) -> torch.Tensor:
    """VideoPose3D's architecture written from REFERENCE.md section 2, straight from its state dict keys
    (eval mode): ``x`` (B, T, J, 2) -> (B, T - rf + 1, J_out, 3)."""
    def bn(h, name):
        return F.batch_norm(h, sd[f"{name}.running_mean"], sd[f"{name}.running_var"], sd[f"{name}.weight"],
                            sd[f"{name}.bias"], training=False, eps=1e-5)

    b, t, j, c = x.shape
    h = x.reshape(b, t, j * c).permute(0, 2, 1)
    w = sd["expand_conv.weight"]
    h = F.relu(bn(F.conv1d(h, w), "expand_bn"))
    dilation = w.shape[2]
    n_blocks = len([k for k in sd if k.startswith("layers_conv.")]) // 2
    for i in range(n_blocks):
        k = sd[f"layers_conv.{2 * i}.weight"]
        pad = (k.shape[2] - 1) * dilation // 2
        shift = pad if causal else 0
        res = h[:, :, pad + shift : h.shape[2] - pad + shift]
        y = F.relu(bn(F.conv1d(h, k, dilation=dilation), f"layers_bn.{2 * i}"))
        y = F.relu(bn(F.conv1d(y, sd[f"layers_conv.{2 * i + 1}.weight"]), f"layers_bn.{2 * i + 1}"))
        h = res + y
        dilation *= k.shape[2]
    out = F.conv1d(h, sd["shrink.weight"], sd["shrink.bias"])
    return out.permute(0, 2, 1).reshape(b, -1, sd["shrink.weight"].shape[0] // 3, 3)


@pytest.mark.parametrize("causal,legacy", [(False, False), (True, True)], ids=["centred zip", "causal legacy"])
def test_imported_model_equals_the_published_architecture(tmp_path, causal, legacy):
    ckpt = tmp_path / "epoch_80.bin"
    pos, traj = vp3d_checkpoint(ckpt, causal=causal, legacy=legacy)
    info = import_vp3d(ckpt, tmp_path / "run", "h36m17", causal=causal)
    assert info["read_from_weights"] == {"widths": [3, 3, 3], "channels": 32, "in_joints": 17, "in_features": 2,
                                         "out_joints": 17, "receptive_field": 27, "trajectory_model": True}
    assert info["imported_from"]["epoch"] == 80 and info["declared"]["causal"] is causal
    assert "optimizer" in info["not_read"] and "random_state" in info["not_read"]
    lifter = load_lifter(tmp_path / "run", device="cpu", flip_test=False)
    assert lifter.model.causal is causal and lifter.normalization == "image"
    x = torch.randn(1, 60, 17, 2)
    state = read_vp3d_checkpoint(ckpt)
    with torch.no_grad():
        got = lifter.model(x)
        # the independent implementation, from the file's state dicts and from the models that wrote them
        np.testing.assert_allclose(got.numpy(), reference_forward(state["model_pos"], x, causal).numpy(), atol=1e-5)
        np.testing.assert_allclose(got.numpy(), pos(x).numpy(), atol=1e-5)
        # the trajectory model (same class, one output joint) too
        np.testing.assert_allclose(lifter.traj_model(x).numpy(), traj(x).numpy(), atol=1e-5)
        np.testing.assert_allclose(lifter.traj_model(x).numpy(),
                                   reference_forward(state["model_traj"], x, causal).numpy(), atol=1e-5)
    # whole-sequence lifting (folded BatchNorm, edge padding) agrees with the reference
    seq = np.random.default_rng(0).normal(0, 0.3, (40, 17, 2)).astype(np.float32)
    np.testing.assert_allclose(lifter.lift(seq), (lambda y: y - y[:, :1])(reference_lift(pos, seq)), atol=1e-5)
    # the run folder is a poselift run: its config describes the model
    from poselift.experiments.config import load_config

    cfg = load_config(tmp_path / "run" / "config.yaml")
    assert cfg.model.widths == [3, 3, 3] and cfg.model.channels == 32 and cfg.model.causal is causal
    assert cfg.data.keypoints == "gt" and cfg.model.trajectory


def test_coco_model_and_dataparallel_prefix(tmp_path):
    ckpt = tmp_path / "coco.bin"
    pos, _ = vp3d_checkpoint(ckpt, widths=(3, 3), traj=False)
    state = torch.load(ckpt, weights_only=False)
    state["model_pos"] = OrderedDict(("module." + k, v) for k, v in state["model_pos"].items())
    torch.save(state, ckpt)
    info = import_vp3d(ckpt, tmp_path / "run", "coco17")
    assert info["declared"]["layout_in"] == "coco17" and "refuses" in info["evaluate"]
    lifter = load_lifter(tmp_path / "run", device="cpu", flip_test=False)
    assert lifter.layout_in.name == "coco17" and lifter.traj_model is None
    x = torch.randn(1, 20, 17, 2)
    with torch.no_grad():
        np.testing.assert_allclose(lifter.model(x).numpy(), pos(x).numpy(), atol=1e-5)
    # `poselift evaluate` would feed it Human3.6M's h36m17 2D (also 17 joints): refused, not silently wrong
    from poselift.experiments.run_fit import check_run_fits_data

    with pytest.raises(ValueError, match="takes coco17 2D input"):
        check_run_fits_data(lifter, "h36m17", "image", tmp_path / "run")


def test_layout_that_does_not_fit_the_weights_is_refused(tmp_path):
    ckpt = tmp_path / "m.bin"
    vp3d_checkpoint(ckpt, widths=(3,), traj=False)
    with pytest.raises(InputError, match="layout 'mpii16' has 16 joints"):
        import_vp3d(ckpt, tmp_path / "run", "mpii16")
    with pytest.raises(KeyError, match="unknown joint layout 'coco18'"):
        import_vp3d(ckpt, tmp_path / "run2", "coco18")
    import_vp3d(ckpt, tmp_path / "run3", "h36m17")
    with pytest.raises(FileExistsError):
        import_vp3d(ckpt, tmp_path / "run3", "h36m17")


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.bin"
    _, _ = vp3d_checkpoint(ckpt, widths=(3,), traj=False)
    state = torch.load(ckpt, weights_only=False)
    state["random_state"] = _RunsShell(marker)
    torch.save(state, ckpt)
    with pytest.raises(FileFormatError, match=r"refused.*system"):
        import_vp3d(ckpt, tmp_path / "run", "h36m17")
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_other_files_are_refused_by_name(tmp_path):
    ckpt = tmp_path / "x.bin"
    torch.save({"model": {"w": torch.zeros(2)}}, ckpt)
    with pytest.raises(FileFormatError, match="not a VideoPose3D checkpoint: no 'model_pos'"):
        import_vp3d(ckpt, tmp_path / "run", "h36m17")
    vp3d_checkpoint(ckpt, widths=(3,), traj=False)
    state = torch.load(ckpt, weights_only=False)
    state["model_pos"]["extra_head.weight"] = torch.zeros(3)
    torch.save(state, ckpt)
    with pytest.raises(FileFormatError, match=r"outside VideoPose3D's layout.*extra_head.weight"):
        import_vp3d(ckpt, tmp_path / "run", "h36m17")
    (tmp_path / "trunc.bin").write_bytes(b"\x80\x02}q")
    with pytest.raises(FileFormatError, match="corrupt or truncated"):
        import_vp3d(tmp_path / "trunc.bin", tmp_path / "run", "h36m17")


def test_import_command_then_lift_and_export(tmp_path, capsys):
    from poselift.commands import main
    from poselift.detectors.formats import KeypointTracks, read_poses3d_h5, write_keypoints_h5
    from poselift.detectors.tracking import Detections, TrackerSettings, tracks_from_ids

    ckpt = tmp_path / "pretrained_h36m_detectron_coco.bin"
    pos, _ = vp3d_checkpoint(ckpt, widths=(3, 3), traj=False)
    assert main(["import", str(ckpt), "--layout", "coco17", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "receptive field 9" in out and "input coco17" in out and "centred (not causal)" in out
    # a COCO-17 clip of one person
    rng = np.random.default_rng(0)
    kp = rng.uniform(200, 400, (30, 17, 2)).astype(np.float32)
    dets = [Detections(kp[i][None], np.ones((1, 17), np.float32), ids=np.zeros(1, np.int64)) for i in range(30)]
    tracks = KeypointTracks(tracks_from_ids(dets, TrackerSettings(min_length=1)), "coco17", (640, 480), 30.0, 30)
    write_keypoints_h5(tmp_path / "kp.h5", tracks)
    assert main(["lift", str(tmp_path / "kp.h5"), "--run", str(tmp_path / "run"), "--out",
                 str(tmp_path / "p3d.h5"), "--device", "cpu", "--quiet"]) == 0
    p3 = read_poses3d_h5(tmp_path / "p3d.h5")
    (y,) = p3.poses.values()
    x = torch.as_tensor((kp / 640 * 2 - [1, 480 / 640]).astype(np.float32))
    from poselift.core.layouts import get_layout
    from poselift.core.mirror import flip_pair

    ref = reference_lift(pos, x.numpy(), flip_perms=flip_pair("coco17", "h36m17"))
    np.testing.assert_allclose(y, ref - ref[:, :1], atol=1e-5)
    assert get_layout(p3.attrs["layout"]).name == "h36m17"
    assert main(["export", str(tmp_path / "run"), "--no-step"]) == 0
    assert (tmp_path / "run" / "export" / "lifter.onnx").exists()


def test_a_file_that_may_be_a_dense_model_warns_and_names_both_readings(tmp_path):
    # VideoPose3D's --dense -arc 3,3,3 has undilated kernels of 3, 2*3+1 = 7 and 2*9+1 = 19 frames: the same
    # shapes as a dilated model with widths 3, 7, 19 (receptive field 399 instead of 27)
    ckpt = tmp_path / "dense.bin"
    vp3d_checkpoint(ckpt, widths=(3, 7, 19), channels=8, traj=False)
    with pytest.warns(UserWarning, match=r"widths \[3, 7, 19\] are also those of VideoPose3D's --dense model with "
                                         r"-arc 3,3,3.*receptive field 399"):
        info = import_vp3d(ckpt, tmp_path / "run", "h36m17")
    assert info["read_from_weights"]["receptive_field"] == 399
    # the published (dilated, all widths 3) models never fit the dense rule: no warning
    vp3d_checkpoint(ckpt, widths=(3, 3, 3, 3, 3), channels=8, traj=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import_vp3d(ckpt, tmp_path / "run243", "h36m17")


def test_an_import_killed_midway_leaves_no_half_run_and_runs_again(tmp_path, monkeypatch):
    """A kill after the checkpoint is written but before config.yaml (simulated by an error there) leaves no run
    folder, so the same command then succeeds without --overwrite; leftover temporaries of a real kill are
    removed; a folder holding other files is not replaced."""
    import poselift.experiments.vp3d_import as vi

    ckpt = tmp_path / "m.bin"
    vp3d_checkpoint(ckpt, widths=(3,), traj=False)
    out = tmp_path / "run"

    def killed(*a, **k):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(vi, "atomic_write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        import_vp3d(ckpt, out, "h36m17")
    assert not out.exists() and not list(tmp_path.glob(".run.*"))
    monkeypatch.undo()
    (tmp_path / ".run.abc123.tmp").mkdir()  # what a SIGKILL between the files leaves
    (tmp_path / ".run.abc123.tmp" / "checkpoint.pt").write_bytes(b"partial")
    info = import_vp3d(ckpt, out, "h36m17")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.yaml", "run.json"]
    assert not list(tmp_path.glob(".run.*")) and info["declared"]["layout_in"] == "h36m17"
    load_lifter(out, device="cpu")
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not an imported run"):
        import_vp3d(ckpt, other, "h36m17")
    assert (other / "notes.txt").read_text() == "keep me"
