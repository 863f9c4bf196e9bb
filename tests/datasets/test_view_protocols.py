"""The cross-view and novel-view protocols: declared cameras and views, applied to sequences (synthetic and,
when ../shared/data is there, Human3.6M)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import h36m_or_skip

from poselift.datasets.protocols import H36M_CAMERAS, H36M_VP3D, PROTOCOLS, apply_view_rules
from poselift.datasets.synthetic import make_dataset


def test_cross_view_protocols_hold_out_each_camera_once():
    held = []
    for i in range(1, 5):
        p = PROTOCOLS[f"h36m-vp3d-cross-view-{i}"]
        assert len(p.test_cameras) == 1 and len(p.train_cameras) == 3
        assert set(p.train_cameras) | set(p.test_cameras) == set(H36M_CAMERAS)
        assert p.test_cameras[0] == H36M_CAMERAS[i - 1] and p.test_cameras[0] in p.description
        assert (p.train_subjects, p.test_subjects, p.exclude) == (H36M_VP3D.train_subjects, H36M_VP3D.test_subjects,
                                                                   H36M_VP3D.exclude)
        assert p.evaluation_key["test_cameras"] == list(p.test_cameras)
        held.append(p.test_cameras[0])
    assert sorted(held) == sorted(H36M_CAMERAS)
    assert "test_cameras" not in H36M_VP3D.evaluation_key  # the old protocols' keys are unchanged


def test_novel_views_are_declared_and_span_the_viewpoints():
    p = PROTOCOLS["h36m-novel-views"]
    v = p.test_views
    assert len(v) == 8 and len({x.name for x in v}) == 8
    el = [x.elevation for x in v]
    assert min(el) <= -15 and max(el) >= 60
    assert any(x.height > x.width for x in v) and any(x.width * 9 == x.height * 16 for x in v)
    assert min(x.distance for x in v) <= 3 and max(x.distance for x in v) >= 10
    assert p.train_subjects == H36M_VP3D.train_subjects and not p.train_cameras
    assert p.evaluation_key["test_views"] == [x.name for x in v]


def test_view_rules_on_sequences():
    seqs = make_dataset(subjects=1, motions=["walk", "box"], num_frames=50, seed=9)  # 2 takes x 4 cameras
    cams = sorted({s.camera_id for s in seqs})
    cross = dataclasses.replace(H36M_VP3D, train_cameras=tuple(cams[:3]), test_cameras=(cams[3],))
    train, test = apply_view_rules(cross, seqs, seqs)
    assert {s.camera_id for s in train} == set(cams[:3]) and {s.camera_id for s in test} == {cams[3]}
    assert len(train) == 6 and len(test) == 2
    novel = dataclasses.replace(H36M_VP3D, test_views=PROTOCOLS["h36m-novel-views"].test_views)
    train2, test2 = apply_view_rules(novel, seqs, seqs)
    assert train2 == list(seqs)  # training untouched
    assert len(test2) == 2 * 8 and sum(len(s) for s in test2) == 2 * 8 * 50  # every take once per view
    again = apply_view_rules(novel, seqs, seqs)[1]
    assert all(np.array_equal(a.keypoints, b.keypoints) for a, b in zip(test2, again))  # fixed, not drawn
    first = seqs[0]
    for s in test2[:8]:  # the same motion, rigidly moved: pairwise joint distances kept
        d = np.linalg.norm(s.poses3d[:, :, None] - s.poses3d[:, None], axis=-1)
        d0 = np.linalg.norm(first.poses3d[:, :, None] - first.poses3d[:, None], axis=-1)
        np.testing.assert_allclose(d, d0, atol=1e-5)
        assert s.image_size == (s.meta["virtual_view"]["width"], s.meta["virtual_view"]["height"])
        kp = s.keypoints.reshape(-1, 2)
        assert (kp > -2).all() and (kp < np.array(s.image_size) + 2).all()  # the body is in the frame


@pytest.fixture(scope="module")
def h36m_root():
    return h36m_or_skip()


@pytest.mark.slow
def test_real_human36m_under_the_view_protocols(h36m_root):
    from poselift.experiments.config import ExperimentConfig, apply_overrides
    from poselift.experiments.data import load_splits

    def split(protocol):
        cfg = apply_overrides(ExperimentConfig(), [f"data.path={h36m_root}", f"data.protocol={protocol}"])
        return load_splits(cfg, progress=False, test_only=True)

    cross = split("h36m-vp3d-cross-view-2")
    assert {s.camera_id for s in cross.test} == {"55011271"}
    assert sum(len(s) for s in cross.test) == 519_852 // 4 and cross.report["test"]["present"] == 519_852 // 4
    novel = split("h36m-novel-views")
    assert sum(len(s) for s in novel.test) == 519_852 // 4 * 8  # h36m-vp3d's frames, once per view
    assert len({(s.subject, s.action) for s in novel.test}) * 8 == len(novel.test)
    assert "8 virtual cameras" in novel.notes[-1]
