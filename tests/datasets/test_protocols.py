"""Protocols as declared data: VideoPose3D's Human3.6M protocol, its labelled-subset rule, named variants, and
what the copy of Human3.6M in ../shared/data holds against it (skipped without the data)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from helpers import h36m_or_skip

from poselift.core.errors import ConfigError
from poselift.core.sequence import PoseSequence
from poselift.datasets.protocols import (
    H36M_VP3D,
    PROTOCOLS,
    get_protocol,
    subset_range,
    vp3d_subset_start,
)
from poselift.experiments.config import ExperimentConfig, apply_overrides
from poselift.experiments.data import labelled_subset, resolve_protocol


def vp3d_chunk(frames: int, fraction: float) -> tuple[int, int]:
    """VideoPose3D's rule written out here from its description (REFERENCE.md section 2): a chunk of
    round(T * fraction) frames starting at floor(u / (2^32 - 1) * (T - n + 1)), u the first four bytes (little
    endian) of the SHA-256 of str(T)."""
    n = round(frames * fraction)
    digest = hashlib.sha256(str(frames).encode("utf-8")).digest()
    u = digest[0] | digest[1] << 8 | digest[2] << 16 | digest[3] << 24
    start = int(u / 4294967295 * (frames - n + 1))
    return start, start + n


@pytest.mark.parametrize("fraction", [0.1, 0.05, 0.5, 0.013])
def test_the_vp3d_subset_rule_equals_its_definition(fraction):
    for frames in list(range(30, 400, 7)) + [1383, 5873, 6090, 12000]:
        if round(frames * fraction) < 1:  # a chunk of no frame is an error, not an empty take
            with pytest.raises(ConfigError, match="no frame at all"):
                subset_range("vp3d", frames, fraction)
            continue
        assert subset_range("vp3d", frames, fraction) == vp3d_chunk(frames, fraction), frames
    assert subset_range("vp3d", 100, 1.0) == (0, 100)
    with pytest.raises(ConfigError, match="no frame at all"):
        subset_range("vp3d", 4, 0.1)
    assert vp3d_subset_start(2000, 200) == vp3d_chunk(2000, 0.1)[0]


def _take(subject, action, cam, frames, rng):
    return PoseSequence(keypoints=rng.normal(size=(frames, 17, 2)).astype(np.float32), layout="h36m17",
                        poses3d=rng.normal(size=(frames, 17, 3)).astype(np.float32), layout3d="h36m17",
                        image_size=(1000, 1000), subject=subject, action=action, camera_id=cam)


def test_the_vp3d_subset_gives_every_camera_of_a_take_the_same_chunk_and_cuts_the_2d_there():
    rng = np.random.default_rng(0)
    seqs = [_take("S1", a, c, n, rng) for a, n in (("Walking", 1200), ("Eating 2", 870)) for c in "ABCD"]
    cut, ranges = labelled_subset(seqs, 0.1, H36M_VP3D, seed=3)
    assert ranges is None  # the sequences themselves are cut: no 2D context beyond the chunk
    for q, s in zip(cut, seqs):
        a, b = vp3d_chunk(len(s), 0.1)
        np.testing.assert_array_equal(q.keypoints, s.keypoints[a:b])
        np.testing.assert_array_equal(q.poses3d, s.poses3d[a:b])
    assert len({len(q) for q in cut[:4]}) == 1 and len({len(q) for q in cut[4:]}) == 1
    # the other rule: a chunk per camera (seeded), whole sequences as context
    per_cam = get_protocol("h36m-poselift-v1")
    whole, ranges = labelled_subset(seqs, 0.1, per_cam, seed=3)
    assert [len(q) for q in whole] == [len(s) for s in seqs]
    assert len({r for r in ranges[:4]}) > 1  # the cameras of one take got different chunks
    assert all(b - a == round(0.1 * len(s)) for (a, b), s in zip(ranges, seqs))


def test_the_default_human36m_protocol_is_vp3d_and_changes_make_named_variants():
    cfg = ExperimentConfig()
    p = resolve_protocol(cfg)
    assert p is H36M_VP3D or p == H36M_VP3D
    assert p.exclude == ("S11/Directions",) and p.root == "raw" and p.flip_mode == "duplicate"
    assert p.subset_rule == "vp3d" and p.averaging == "action"
    assert [p.action_of(t) for t in ("Walking 1", "WalkTogether", "Sitting 2", "Directions")] == [
        "Walking", "WalkTogether", "Sitting", "Directions"]
    assert not p.keeps("S11", "Directions") and p.keeps("S11", "Directions 1") and p.keeps("S9", "Directions")
    half = resolve_protocol(apply_overrides(cfg, ["train.flip_mode=random_half"]))
    assert half.name == "h36m-vp3d[flip_mode=random_half]" and half.base == "h36m-vp3d"
    off = resolve_protocol(apply_overrides(cfg, ["train.flip_augment=false", "data.test_subjects=[S9]"]))
    assert off.name == "h36m-vp3d[flip_mode=off, test_subjects=S9]"
    assert resolve_protocol(apply_overrides(cfg, ["data.test_subjects=[S9, S11]"])).name == "h36m-vp3d"
    assert set(PROTOCOLS) >= {"h36m-vp3d", "h36m-poselift-v1", "humaneva-vp3d", "custom"}
    with pytest.raises(ConfigError, match="unknown protocol"):
        get_protocol("h36m-vp3")


# --------------------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def h36m_root():
    return h36m_or_skip()


def test_real_splits_report_what_this_copy_lacks_against_vp3d(h36m_root):
    """The test set is VideoPose3D's: 519,852 frames on this copy (543,344 less S9 Discussion 1's 4 x 5,873);
    the training windows 1,464,400 of VideoPose3D's 1,559,752, the four missing takes named."""
    from poselift.experiments.data import load_splits

    cfg = apply_overrides(ExperimentConfig(), [f"data.path={h36m_root}"])
    splits = load_splits(cfg, progress=False)
    r = splits.report
    assert sum(len(s) for s in splits.test) == 519_852
    assert r["test"] | {"missing_takes": None, "excluded_takes": None} == {
        "unit": "frames", "present": 519_852, "reference": 543_344, "missing": 23_492, "unexplained": 0,
        "missing_takes": None, "excluded_takes": None}
    assert r["test"]["missing_takes"] == [{"take": "S9/Discussion 1", "frames": 5_873, "cameras": 4}]
    assert r["test"]["excluded_takes"] == [{"take": "S11/Directions", "frames": 1_825, "cameras": 4}]
    assert r["train"]["present"] == 1_464_400 and r["train"]["reference"] == 1_559_752
    assert r["train"]["missing"] == 95_352 and r["train"]["unexplained"] == 0
    assert [m["take"] for m in r["train"]["missing_takes"]] == ["S5/Discussion 2", "S5/Discussion 3",
                                                                "S7/Discussion", "S7/SittingDown 1"]
    assert not any(s.subject == "S11" and s.action == "Directions" for s in splits.test)
    assert any(s.subject == "S11" and s.action == "Directions 1" for s in splits.test)
    notes = " ".join(splits.notes)
    assert "S9/Discussion 1 (5,873 frames x 4 cameras)" in notes and "95,352 windows (6.1% of" in notes
    # an epoch of mirrored duplicates at batch 1024: VideoPose3D's step count on this copy
    assert -(-2 * r["train"]["present"] // 1024) == 2_861
    # VideoPose3D's 10 % of S1: one chunk per take for all cameras, 6,208 distinct mocap frames
    s1 = [s for s in splits.train if s.subject == "S1"]
    cut, _ = labelled_subset(s1, 0.1, splits.protocol, seed=0)
    takes = {(q.action, len(q)) for q in cut}
    assert sum(n for _, n in takes) == 6_208 and len(cut) == 4 * len(takes)


def test_real_stacked_hourglass_joints_lie_where_their_mpii_names_say(h36m_root):
    """The measurement behind mpii16's names (experiments/scripts/sh_joint_distances.py), on S9 every 20th frame:
    SH joint 7 is the thorax (not a spine), 8 the upper neck, 9 the head top."""
    from poselift.core.layouts import H36M17, MPII16
    from poselift.datasets import h36m
    from poselift.experiments.scripts.sh_joint_distances import distances

    med = distances(h36m.load(h36m_root, subjects=["S9"]), ["S9"], stride=20)
    assert med.shape == (16, 17)
    j = H36M17.index
    assert MPII16.joints[7:10] == ("thorax", "upper_neck", "head_top")
    assert np.argmin(med[7]) == j("thorax") and med[7, j("spine")] > 2.5 * med[7, j("thorax")]
    assert np.argmin(med[8]) == j("thorax") and med[8, j("thorax")] < med[8, j("neck_nose")]
    assert np.argmin(med[9]) == j("head_top")
    for name in ("pelvis", "left_knee", "right_wrist", "left_shoulder"):  # the limbs sit on their namesakes
        assert H36M17.joints[np.argmin(med[MPII16.index(name)])] == name
