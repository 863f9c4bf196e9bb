"""VideoPose3D checkpoints into run folders: the key mapping (outputs equal to an independent implementation of
the published architecture and to the poselift model), loading without running code, clear refusals."""
from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import randomised

from poselift.core.errors import FileFormatError, InputError
from poselift.experiments.vp3d_import import import_vp3d, read_vp3d_checkpoint
from poselift.inference import lift_sequence, load_lifter
from poselift.model.tcn import TemporalLifter

RENAME = (("block_convs.", "layers_conv."), ("block_bns.", "layers_bn."), ("shrink.", "shrink_conv."))


def vp3d_state(model: TemporalLifter) -> OrderedDict:
    """The model's weights under VideoPose3D's key names."""
    out = OrderedDict()
    for k, v in model.state_dict().items():
        for a, b in RENAME:
            if k.startswith(a):
                k = b + k[len(a):]
        out[k] = v.clone()
    return out


def vp3d_checkpoint(path, widths=(3, 3, 3), j_in=17, j_out=17, channels=32, causal=False, traj=True,
                    legacy=False, seed=0, extra=None):
    """Write a checkpoint in exactly VideoPose3D's layout (with an optimizer state and a numpy RandomState);
    returns the poselift models whose weights it holds."""
    torch.manual_seed(seed)
    pos = randomised(TemporalLifter(j_in, j_out, widths, channels, causal=causal), seed=seed)
    tr = randomised(TemporalLifter(j_in, 1, widths, channels, causal=causal), seed=seed + 1) if traj else None
    opt = torch.optim.Adam(pos.parameters(), lr=1e-3, amsgrad=True)
    pos.train()
    pos(torch.randn(2, pos.receptive_field, j_in, 2)).sum().backward()
    opt.step()  # a real optimizer state: tensors per parameter
    pos.eval()
    state = {"epoch": 80, "lr": 0.00095, "random_state": np.random.RandomState(1234),
             "optimizer": opt.state_dict(), "model_pos": vp3d_state(pos),
             "model_traj": vp3d_state(tr) if traj else None,
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
    out = F.conv1d(h, sd["shrink_conv.weight"], sd["shrink_conv.bias"])
    return out.permute(0, 2, 1).reshape(b, -1, sd["shrink_conv.weight"].shape[0] // 3, 3)


@pytest.mark.parametrize("causal,legacy", [(False, False), (True, True)], ids=["centred zip", "causal legacy"])
def test_imported_model_equals_the_published_architecture_and_poselift(tmp_path, causal, legacy):
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
    sd = read_vp3d_checkpoint(ckpt)["model_pos"]
    ref = reference_forward(sd, x, causal)
    with torch.no_grad():
        got = lifter.model(x)
        np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=1e-5)  # independent implementation
        np.testing.assert_allclose(got.numpy(), pos(x).numpy(), atol=1e-6)  # the poselift model, same weights
        # the trajectory model too
        np.testing.assert_allclose(lifter.traj_model(x).numpy(),
                                   reference_forward(read_vp3d_checkpoint(ckpt)["model_traj"], x, causal).numpy(),
                                   atol=1e-5)
    # whole-sequence lifting (folded BatchNorm, edge padding) agrees with the poselift model
    seq = np.random.default_rng(0).normal(0, 0.3, (40, 17, 2)).astype(np.float32)
    np.testing.assert_allclose(lifter.lift(seq), (lambda y: y - y[:, :1])(lift_sequence(pos, seq)), atol=1e-5)
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
        np.testing.assert_allclose(lifter.model(x).numpy(), pos(x).numpy(), atol=1e-6)
    # `poselift evaluate` would feed it Human3.6M's h36m17 2D (also 17 joints): refused, not silently wrong
    from poselift.experiments.runner import check_run_fits_data

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

    ref = lift_sequence(pos, x, flip_perms=flip_pair("coco17", "h36m17"))
    np.testing.assert_allclose(y, ref - ref[:, :1], atol=1e-5)
    assert get_layout(p3.attrs["layout"]).name == "h36m17"
    assert main(["export", str(tmp_path / "run"), "--no-step"]) == 0
    assert (tmp_path / "run" / "export" / "lifter.onnx").exists()
