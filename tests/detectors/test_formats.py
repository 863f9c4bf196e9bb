"""2D keypoint files: our HDF5 format, DeepStream JSON, VideoPose3D/Detectron2 npz, MMPose JSON, boxes."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from poselift.core.errors import UnsafePickleWarning
from poselift.detectors.formats import (
    KeypointTracks,
    read_2d,
    read_coco_npz,
    read_deepstream_json,
    read_keypoints_h5,
    read_mmpose_json,
    read_poses3d_h5,
    read_sequences,
    write_keypoints_h5,
    write_poses3d_h5,
)
from poselift.detectors.pipeline import read_boxes_json
from poselift.detectors.standins import person_template
from poselift.detectors.tracking import fill_track


def _tracks(layout="bodyposenet18", extras=False):
    rng = np.random.default_rng(1)
    a = np.array([person_template(100 + 3 * t, 50, 300) for t in range(12)])
    kp = a + rng.normal(0, 0.3, a.shape)
    kp[3, 16] = np.nan  # one missing ear
    ex = {}
    if extras:
        ex = {"pose3d": rng.normal(size=(12, 18, 3)), "pose25d": rng.normal(size=(12, 18, 4))}
    t1 = fill_track(range(2, 14), kp, np.full((12, 18), 0.8), ex, track_id=4)
    t2 = fill_track([0, 1, 5], kp[:3] + 200, np.full((3, 18), 0.5), track_id=9)
    return KeypointTracks([t1, t2], layout, (640, 480), 25.0, 20, "clip.mp4", "bodyposenet", {"model": "m.onnx"})


def test_h5_round_trip(tmp_path):
    data = _tracks(extras=True)
    path = tmp_path / "kp.h5"
    write_keypoints_h5(path, data)
    back = read_keypoints_h5(path)
    assert back.layout == "bodyposenet18" and back.image_size == (640, 480) and back.fps == 25.0
    assert back.num_frames == 20 and back.source == "clip.mp4" and back.attrs["model"] == "m.onnx"
    assert [t.track_id for t in back.tracks] == [4, 9]
    for t, u in zip(data.tracks, back.tracks):
        np.testing.assert_array_equal(t.frames, u.frames)
        np.testing.assert_allclose(t.keypoints, u.keypoints, atol=1e-5)
        np.testing.assert_array_equal(t.interpolated, u.interpolated)
        np.testing.assert_array_equal(t.detected, u.detected)
        assert set(t.extras) == set(u.extras)
    np.testing.assert_allclose(back.tracks[0].extras["pose3d"], data.tracks[0].extras["pose3d"], atol=1e-6)
    # the second track had frames 0, 1, 5: frames 2-4 filled
    assert back.tracks[1].interpolated[2:5].all() and not back.tracks[1].detected[2:5].any()
    assert not list(tmp_path.glob(".kp.h5.*"))  # no temporary file left


def test_h5_to_sequences(tmp_path):
    path = tmp_path / "kp.h5"
    write_keypoints_h5(path, _tracks(extras=True))
    seqs = read_sequences(path)
    assert len(seqs) == 2
    s = seqs[0]
    assert s.layout.name == "bodyposenet18" and s.image_size == (640, 480) and len(s) == 12 and s.fps == 25.0
    assert s.track.track_id == 4 and list(s.frames) == list(range(2, 14))
    assert s.detector3d.poses.shape == (12, 18, 3)
    assert s.track.interpolated[3, 16] and s.confidence[3, 16] == 0.0
    assert np.isfinite(s.keypoints).all()
    long_only = read_sequences(path, min_length=7)  # the second track spans 6 frames
    assert [q.track.track_id for q in long_only] == [4]


def test_h5_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        read_keypoints_h5(bad)
    with pytest.raises(FileNotFoundError):
        read_keypoints_h5(tmp_path / "missing.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(ValueError, match="not a poselift-keypoints2d file"):
        read_keypoints_h5(other)
    newer = tmp_path / "newer.h5"
    write_keypoints_h5(newer, _tracks())
    with h5py.File(newer, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(ValueError, match="version 99"):
        read_keypoints_h5(newer)


def test_h5_names_a_bad_array(tmp_path):
    path = tmp_path / "kp.h5"
    write_keypoints_h5(path, _tracks())
    with h5py.File(path, "a") as f:
        g = f["tracks/track_00004"]
        del g["confidence"]
        g["confidence"] = np.zeros((12, 17), np.float32)
    with pytest.raises(ValueError, match=r"track_00004: confidence has shape \(12, 17\), expected \(12, 18\)"):
        read_keypoints_h5(path)


def test_poses3d_round_trip(tmp_path):
    path = tmp_path / "kp.h5"
    write_keypoints_h5(path, _tracks(extras=True))
    seqs = read_sequences(path)
    poses = [np.random.default_rng(i).normal(size=(len(s), 17, 3)) for i, s in enumerate(seqs)]
    out = tmp_path / "p3.h5"
    write_poses3d_h5(out, seqs, poses, num_frames=20, attrs={"run_dir": "runs/x"})
    back = read_poses3d_h5(out)
    assert set(back.poses) == {4, 9} and back.attrs["units"] == "m" and back.attrs["run_dir"] == "runs/x"
    np.testing.assert_allclose(back.poses[4], poses[0], atol=1e-6)
    np.testing.assert_array_equal(back.frames[4], np.arange(2, 14))
    assert back.single_frame[4].shape == (12, 18, 3)
    with pytest.raises(ValueError, match="poses shape"):
        write_poses3d_h5(out, seqs, [p[:, :16] for p in poses])


def _deepstream_text(frames):
    """Write like the app: batches separated by ', ' (not a single JSON document)."""
    parts = []
    for fn, objs in frames:
        batch = {"num_frames_in_batch": 1, "batches": [{
            "batch_id": 0, "frame_num": fn, "ntp_timestamp": 1000 + fn, "num_obj_meta": len(objs),
            "objects": [{"object_id": oid, "pose25d": p25.reshape(-1).tolist(), "pose3d": p3.reshape(-1).tolist()}
                        for oid, p25, p3 in objs]}]}
        parts.append(json.dumps(batch, indent=2))
    return ", ".join(parts) + ", "


def test_deepstream_json(tmp_path):
    rng = np.random.default_rng(2)
    frames, truth = [], {}
    for fn in range(6):
        objs = []
        for oid in (11, 12):
            if oid == 12 and fn == 3:
                continue  # object 12 missing in frame 3: filled
            p25 = np.c_[rng.uniform(0, 600, (34, 2)), rng.normal(size=34), rng.uniform(0.5, 1, 34)]
            p3 = np.c_[rng.normal(size=(34, 3)) * 500, np.ones(34)]
            objs.append((oid, p25, p3))
            truth[(fn, oid)] = (p25, p3)
        frames.append((fn, objs))
    path = tmp_path / "pose.json"
    path.write_text(_deepstream_text(frames))
    data = read_deepstream_json(path, image_size=(1280, 720), fps=30)
    assert data.layout == "bodypose3dnet34" and data.num_frames == 6 and data.image_size == (1280, 720)
    by_id = {t.track_id: t for t in data.tracks}
    assert set(by_id) == {11, 12}
    t12 = by_id[12]
    assert not t12.detected[3] and t12.interpolated[3].all()
    np.testing.assert_allclose(t12.keypoints[4], truth[(4, 12)][0][:, :2], atol=1e-3)
    np.testing.assert_allclose(t12.confidence[4], truth[(4, 12)][0][:, 3], atol=1e-6)
    np.testing.assert_allclose(t12.extras["pose3d"][4], truth[(4, 12)][1][:, :3], atol=1e-2)
    np.testing.assert_allclose(t12.extras["pose25d"][4, :, 2], truth[(4, 12)][0][:, 2], atol=1e-6)
    # dispatch by content, and the sequences carry the single-frame 3D
    seqs = read_2d(path, image_size=(1280, 720)).to_sequences()
    assert seqs[0].detector3d.poses.shape == (6, 34, 3) and seqs[0].detector3d.units == "mm"


def test_deepstream_json_errors(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"batches": [{"frame_num": 0, "objects": [{"object_id": 1, "pose25d": [1, 2, 3]}]}]}')
    with pytest.raises(ValueError, match="136"):
        read_deepstream_json(path)
    path.write_text('{"batches": [{"frame_num": 0, "objects": [')
    with pytest.raises(ValueError, match="corrupt JSON"):
        read_deepstream_json(path)
    ok = tmp_path / "ok.json"
    ok.write_text(_deepstream_text([(0, [(1, np.ones((34, 4)), np.ones((34, 4)))])]))
    with pytest.raises(ValueError, match="image size unknown"):
        read_deepstream_json(ok).to_sequences()


def test_videopose3d_custom_npz(tmp_path):
    kp = np.array([person_template(200, 50, 300) for _ in range(8)])
    coco = kp[:, [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]]  # bodyposenet18 -> coco17 order
    meta = {"layout_name": "coco", "num_joints": 17, "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15],
            [2, 4, 6, 8, 10, 12, 14, 16]], "video_metadata": {"walk.mp4": {"w": 640, "h": 480}}}
    path = tmp_path / "data_2d_custom_test.npz"
    np.savez_compressed(path, positions_2d={"walk.mp4": {"custom": [coco.astype(np.float32)]}}, metadata=meta)
    with pytest.raises(ValueError, match="allow_pickle"):
        read_coco_npz(path)
    with pytest.warns(UnsafePickleWarning):
        data = read_coco_npz(path, allow_pickle=True)
    assert data.layout == "coco17" and data.image_size == (640, 480) and len(data.tracks) == 1
    np.testing.assert_allclose(data.tracks[0].keypoints, coco, atol=1e-4)
    # coco17 converts to h36m17 for a lifter: the sequence works
    seq = data.to_sequences()[0]
    assert seq.layout.name == "coco17" and len(seq) == 8


def test_detectron2_npz_is_tracked(tmp_path):
    a = np.array([person_template(100 + 4 * t, 50, 300) for t in range(10)])
    b = a + [300, 20]
    order = [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]
    kps = []
    for t in range(10):
        people = np.stack([a[t][order], b[t][order]])  # (2, 17, 2)
        arr = np.concatenate([people.transpose(0, 2, 1), np.zeros((2, 1, 17)), np.full((2, 1, 17), 0.9)], 1)
        kps.append([[], arr if t != 4 else arr[:1]])
    keypoints = np.empty(10, dtype=object)
    for i, k in enumerate(kps):
        keypoints[i] = k
    path = tmp_path / "video.mp4.npz"
    np.savez_compressed(path, boxes=np.empty(10, dtype=object), segments=np.empty(10, dtype=object),
                        keypoints=keypoints, metadata={"w": 1000, "h": 600})
    with pytest.warns(UnsafePickleWarning):
        data = read_coco_npz(path, allow_pickle=True)
    assert data.image_size == (1000, 600) and len(data.tracks) == 2
    second = [t for t in data.tracks if t.keypoints[0, 0, 0] > 300][0]
    assert not second.detected[4] and second.interpolated[4].all()
    np.testing.assert_allclose(second.confidence[0], 0.9, atol=1e-6)
    # older numpy saved the per-frame [[], array] lists as a (frames, 2) object array
    table = np.empty((10, 2), dtype=object)
    for i, k in enumerate(kps):
        table[i, 0], table[i, 1] = [], k[1]
    np.savez_compressed(path, keypoints=table, metadata={"w": 1000, "h": 600})
    with pytest.warns(UnsafePickleWarning):
        assert len(read_coco_npz(path, allow_pickle=True).tracks) == 2


def test_mmpose_json(tmp_path):
    order = [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]
    frames = []
    for t in range(7):
        inst = []
        for dx in (0, 300):
            k = person_template(100 + 3 * t + dx, 50, 300)[order]
            inst.append({"keypoints": k.tolist(), "keypoint_scores": [0.7] * 17, "bbox": [[0, 0, 1, 1]],
                         "bbox_score": 0.9})
        frames.append({"frame_id": t + 1, "instances": inst})
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"meta_info": {"dataset_name": "coco"}, "instance_info": frames}))
    data = read_mmpose_json(path, image_size=(800, 600), fps=24)
    assert data.layout == "coco17" and data.num_frames == 7 and len(data.tracks) == 2 and data.fps == 24
    assert all(len(t) == 7 for t in data.tracks)
    np.testing.assert_allclose(data.tracks[0].confidence, 0.7, atol=1e-6)
    # a single image: a bare list of instances
    single = tmp_path / "image.json"
    single.write_text(json.dumps(frames[0]["instances"]))
    assert len(read_mmpose_json(single).tracks) == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"instance_info": [{"frame_id": 1, "instances": [{"keypoints": [[1, 2]] * 5}]}]}))
    with pytest.raises(ValueError, match="keypoints of shape"):
        read_mmpose_json(bad)


def test_boxes_json(tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"0": [[10, 20, 110, 220, 0.9]], "2": [{"bbox": [1, 2, 3, 4], "id": 5}], "3": []}))
    boxes = read_boxes_json(path)
    np.testing.assert_allclose(boxes[0][0], [[10, 20, 110, 220]])
    assert boxes[0][1] is None and boxes[2][1].tolist() == [5] and boxes[3][0].shape == (0, 4)
    path.write_text(json.dumps([[[5, 5, 1, 9]]]))
    with pytest.raises(ValueError, match="frame 0 boxes: box 0"):
        read_boxes_json(path)


def test_read_2d_unknown_suffix(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("1,2")
    with pytest.raises(ValueError, match="unknown 2D keypoint file type"):
        read_2d(p)
