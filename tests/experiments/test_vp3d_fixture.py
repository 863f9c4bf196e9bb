"""A checkpoint written by VideoPose3D's own run.py (../shared/fixtures/vp3d), imported and evaluated the way a user
would (``poselift import``, then ``poselift evaluate`` under ``h36m-vp3d``), against VideoPose3D's own ``--evaluate``
printout of the same file on the same data: every action, all four metrics, to 0.001 mm.

The evaluation lifts 519,852 frames (about 25 s on one CPU core): it runs once per session (module fixture) and is
marked slow. Skipped cleanly when ../shared (the fixture or Human3.6M) is absent.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from helpers import REPO, h36m_or_skip

FIXTURES = REPO.parent / "shared" / "fixtures" / "vp3d"
CKPT = FIXTURES / "h36m_gt_27x256_epoch_1.bin"
PRINTOUT = FIXTURES / "h36m_gt_27x256_epoch_1.evaluate.txt"

# VideoPose3D's printout line -> poselift's metrics.json key
METRICS = {"Protocol #1 Error (MPJPE)": "mpjpe", "Protocol #2 Error (P-MPJPE)": "p_mpjpe",
           "Protocol #3 Error (N-MPJPE)": "n_mpjpe", "Velocity Error (MPJVE)": "mpjve"}
TOLERANCE_MM = 1e-3



def parse_printout(text: str) -> tuple[dict, dict[str, dict[str, float]], int]:
    """VideoPose3D's ``run.py --evaluate`` output -> ``(arguments, {action: {metric: mm}}, test frames)``.

    The arguments are its ``Namespace(...)`` line; the per-action blocks are ``----Action----`` followed by one
    ``<metric name>: <value> mm`` line per metric.
    """
    head = re.search(r"^Namespace\((.*)\)$", text, re.M)
    if head is None:
        raise ValueError("no Namespace(...) line")
    call = ast.parse(f"f({head.group(1)})", mode="eval").body
    args = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    frames = re.search(r"Testing on (\d+) frames", text)
    actions: dict[str, dict[str, float]] = {}
    for name, block in re.findall(r"^----(\w+)----\n(.*?)^----------$", text, re.M | re.S):
        values = dict(re.findall(r"^(.+?): ([-0-9.eE+]+) mm$", block, re.M))
        actions[name] = {key: float(values[line]) for line, key in METRICS.items()}
    return args, actions, int(frames.group(1)) if frames else -1


def test_parse_printout_reads_every_block():
    text = ("Namespace(keypoints='gt', architecture='3,3,3', causal=False, test_time_augmentation=True)\n"
            "INFO: Testing on 12 frames\n"
            "----Walking----\nTest time augmentation: True\nProtocol #1 Error (MPJPE): 1.5 mm\n"
            "Protocol #2 Error (P-MPJPE): 1.25 mm\nProtocol #3 Error (N-MPJPE): 1.0 mm\n"
            "Velocity Error (MPJVE): 0.5 mm\n----------\n")
    args, actions, frames = parse_printout(text)
    assert args == {"keypoints": "gt", "architecture": "3,3,3", "causal": False, "test_time_augmentation": True}
    assert actions == {"Walking": {"mpjpe": 1.5, "p_mpjpe": 1.25, "n_mpjpe": 1.0, "mpjve": 0.5}} and frames == 12


def test_the_real_file_has_the_keys_the_tests_reference_writes():
    """The hand-written key list the importer's tests build their VideoPose3D checkpoints with is the real one."""
    if not CKPT.is_file():
        pytest.skip(f"VideoPose3D fixture not found in {FIXTURES}")
    import importlib.util

    from poselift.experiments.vp3d_import import read_vp3d_checkpoint

    spec = importlib.util.spec_from_file_location("vp3d_import_tests", Path(__file__).with_name("test_vp3d_import.py"))
    tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tests)
    vp3d_keys = tests.vp3d_keys

    state = read_vp3d_checkpoint(CKPT)
    assert sorted(state) == ["epoch", "lr", "model_pos", "model_traj", "optimizer", "random_state",
                             "random_state_semi"]
    assert sorted(state["model_pos"]) == vp3d_keys(2)  # -arc 3,3,3: two residual blocks
    assert state["model_traj"] is None and state["random_state_semi"] is None  # not semi-supervised
    assert tuple(state["model_pos"]["shrink.weight"].shape) == (51, 256, 1)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """(VideoPose3D's printout parsed, the imported run's metrics.json, what import printed)."""
    if not (CKPT.is_file() and PRINTOUT.is_file()):
        pytest.skip(f"VideoPose3D fixture not found in {FIXTURES}")
    h36m = h36m_or_skip()
    from poselift.commands import main

    args, actions, frames = parse_printout(PRINTOUT.read_text())
    assert args["keypoints"] == "gt" and args["causal"] is False and args["dense"] is False
    run = tmp_path_factory.mktemp("vp3d") / "run"
    cmd = ["import", str(CKPT), "--layout", "h36m17", "--out", str(run)]
    if not args["test_time_augmentation"]:
        cmd.append("--no-flip-test")
    assert main(cmd) == 0
    info = json.loads((run / "run.json").read_text())
    assert main(["evaluate", str(run), "--data", str(h36m), "--no-progress",
                 "--flip-test", "on" if args["test_time_augmentation"] else "off"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    return args, actions, frames, info, metrics


@pytest.mark.h36m
@pytest.mark.slow
def test_the_weights_are_read_as_videopose3d_built_them(evaluated):
    args, _, _, info, _ = evaluated
    widths = [int(w) for w in args["architecture"].split(",")]
    assert info["read_from_weights"] == {"widths": widths, "channels": args["channels"], "in_joints": 17,
                                         "in_features": 2, "out_joints": 17, "receptive_field": 27,
                                         "trajectory_model": False}
    assert info["parameters"] == 566067  # "INFO: Trainable parameter count: 566067" in the printout
    assert info["imported_from"]["epoch"] == 1 and info["imported_from"]["lr"] == pytest.approx(0.00095)
    assert sorted(info["not_read"]) == ["optimizer", "random_state", "random_state_semi"]


@pytest.mark.h36m
@pytest.mark.slow
def test_every_action_equals_videopose3d_own_evaluation(evaluated):
    args, ref, frames, _, metrics = evaluated
    assert metrics["protocol"]["name"] == "h36m-vp3d" and metrics["flip_test"] is args["test_time_augmentation"]
    assert metrics["frames"] == frames == 519852
    ours = metrics["per_action"]
    assert sorted(ours) == sorted(ref) and len(ref) == 15
    worst = max(abs(ours[a][k] - v) for a, row in ref.items() for k, v in row.items())
    for action, row in ref.items():
        for key, value in row.items():
            assert ours[action][key] == pytest.approx(value, abs=TOLERANCE_MM), (action, key, worst)
    # the action-wise averages VideoPose3D prints (rounded: 155.1, 97.3, 128.6, 3.32)
    for key in METRICS.values():
        mean = sum(row[key] for row in ref.values()) / len(ref)
        assert metrics[key] == pytest.approx(mean, abs=TOLERANCE_MM)
