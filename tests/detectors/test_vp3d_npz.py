"""VideoPose3D dataset npz files (positions_2d[subject][action][camera]) and what read_2d fills in from the
caller or the video: frame rate, image size, layout, which person."""
from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from poselift.core.errors import FileFormatError, InputError, InputWarning, UnsafePickleWarning
from poselift.detectors.formats import read_2d
from poselift.detectors.formats.vp3d_npz import read_vp3d_npz
from poselift.viz.video import write_video

H36M_META = {"layout_name": "h36m", "num_joints": 17,
             "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
SH_META = {"num_joints": 16, "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]]}


def _kp(t, j, seed):
    return np.random.default_rng(seed).uniform(100, 900, (t, j, 2)).astype(np.float32)


def h36m_file(path, meta=H36M_META, j=17):
    """A file shaped like data_2d_h36m_cpn_ft_h36m_dbb.npz: two subjects, two actions, four cameras."""
    pos = {s: {a: [_kp(20 + 5 * c, j, 10 * i + c) for c in range(4)] for a in ("Walking", "Eating")}
           for i, s in enumerate(("S9", "S11"))}
    pos["S11"]["Eating"][2] = None  # a camera without keypoints
    np.savez_compressed(path, positions_2d=pos, metadata=meta)
    return pos


def test_human36m_entry_by_subject_action_camera(tmp_path):
    path = tmp_path / "data_2d_h36m_cpn.npz"
    pos = h36m_file(path)
    with pytest.warns(UnsafePickleWarning):
        data = read_vp3d_npz(path, "S11", "Walking", 3, allow_pickle=True)
    assert data.layout == "h36m17" and data.num_frames == 35 and len(data.tracks) == 1
    assert data.fps == 0 and data.image_size is None  # neither is stored in these files
    np.testing.assert_allclose(data.tracks[0].keypoints, pos["S11"]["Walking"][3])
    assert data.attrs == {"subject": "S11", "action": "Walking", "camera": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafePickleWarning)
        with pytest.raises(InputError, match=r"holds 2 subjects \('S11', 'S9'\); choose one with subject="):
            read_vp3d_npz(path, allow_pickle=True)
        with pytest.raises(InputError, match=r"no subject 'S1'; subjects: 'S11', 'S9'"):
            read_vp3d_npz(path, "S1", allow_pickle=True)
        with pytest.raises(InputError, match="holds 2 actions .*choose one with action="):
            read_vp3d_npz(path, "S9", allow_pickle=True)
        with pytest.raises(InputError, match=r"holds 4 cameras \(0, 1, 2, 3\); choose one with camera="):
            read_vp3d_npz(path, "S9", "Eating", allow_pickle=True)
        with pytest.raises(InputError, match=r"no keypoints for camera 2; cameras with keypoints: \[0, 1, 3\]"):
            read_vp3d_npz(path, "S11", "Eating", 2, allow_pickle=True)
        # through read_2d, with the image size from the caller: sequences for a lifter
        seqs = read_2d(path, image_size=(1000, 1002), fps=50, allow_pickle=True, subject="S9", action="Eating",
                       camera=1).to_sequences()
        assert len(seqs) == 1 and seqs[0].layout.name == "h36m17" and seqs[0].fps == 50 and len(seqs[0]) == 25


def test_layout_from_the_file_its_left_right_lists_or_the_caller(tmp_path):
    sh = tmp_path / "data_2d_h36m_sh_pt_mpii.npz"
    h36m_file(sh, SH_META, j=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsafePickleWarning)
        assert read_vp3d_npz(sh, "S9", "Walking", 0, allow_pickle=True).layout == "mpii16"  # no name: the lists say
        bad = tmp_path / "bad.npz"
        h36m_file(bad, dict(H36M_META, keypoints_symmetry=[[1, 2, 3, 14, 15, 16], [4, 5, 6, 11, 12, 13]]))
        with pytest.raises(FileFormatError, match="another joint order"):
            read_vp3d_npz(bad, "S9", "Walking", 0, allow_pickle=True)
        anon = tmp_path / "anon.npz"
        h36m_file(anon, {})
        with pytest.raises(InputError, match=r"does not name its joint layout .*\(--layout[;)]"):
            read_vp3d_npz(anon, "S9", "Walking", 0, allow_pickle=True)
        assert read_vp3d_npz(anon, "S9", "Walking", 0, allow_pickle=True, layout="coco17").layout == "coco17"
        named = tmp_path / "named.npz"
        h36m_file(named)
        with pytest.raises(InputError, match=r"says its layout is 'h36m' \(h36m17\); --layout says coco17"):
            read_2d(named, allow_pickle=True, subject="S9", action="Walking", camera=0, layout="coco17")
        wrong = tmp_path / "wrong.npz"
        h36m_file(wrong, dict(H36M_META, num_joints=16))
        with pytest.raises(FileFormatError, match="metadata says 16 joints, the keypoints have 17"):
            read_vp3d_npz(wrong, "S9", "Walking", 0, allow_pickle=True)
    with pytest.raises(FileFormatError, match="allow_pickle"):
        read_2d(named)  # pickles stay refused without the opt-in


def _mmpose(path, t=8, people=2):
    """Two people walking slowly to the right, 400 px apart."""
    base = _kp(1, 17, 0)[0] * 0.3
    frames = [{"frame_id": i, "instances": [{"keypoints": (base + [100 + 400 * p + 3 * i, 100]).tolist(),
                                             "keypoint_scores": [0.9] * 17} for p in range(people)]}
              for i in range(t)]
    path.write_text(json.dumps({"instance_info": frames}))


def test_frame_rate_and_size_from_the_video_and_who_wins(tmp_path):
    mm = tmp_path / "mm.json"
    _mmpose(mm)
    video = tmp_path / "clip.mp4"
    write_video(video, [np.zeros((720, 1280, 3), np.uint8)] * 8, fps=24)
    data = read_2d(mm)
    assert data.fps == 0 and data.image_size is None  # MMPose JSON stores neither
    data = read_2d(mm, video=video)
    assert data.fps == pytest.approx(24) and data.image_size == (1280, 720)
    assert read_2d(mm, video=video, fps=30, image_size=(640, 360)).fps == 30  # the caller's values win
    # a file that says otherwise than its video: the file's values are kept, with a visible warning
    from poselift.detectors.formats import write_keypoints_h5

    h5 = tmp_path / "kp.h5"
    write_keypoints_h5(h5, read_2d(mm, image_size=(1920, 1080), fps=25))
    with pytest.warns(InputWarning) as record:
        data = read_2d(h5, video=video)
    assert data.fps == 25 and data.image_size == (1920, 1080)
    text = " ".join(str(w.message) for w in record)
    assert "1920x1080 but" in text and "25 frames/s but" in text


def test_layout_relabel_and_track_choice(tmp_path):
    mm = tmp_path / "mm.json"
    _mmpose(mm)
    assert read_2d(mm).layout == "coco17"  # assumed for MMPose files
    assert read_2d(mm, layout="h36m17").layout == "h36m17"  # an MMPose model trained on Human3.6M joints
    with pytest.raises(InputError, match="17 joints per person, layout mpii16 has 16"):
        read_2d(mm, layout="mpii16")
    ids = [t.track_id for t in read_2d(mm).tracks]
    kept = read_2d(mm, tracks=[ids[1]])
    assert [t.track_id for t in kept.tracks] == [ids[1]]
    assert len(ids) == 2
    with pytest.raises(InputError, match=re.escape(f"no track [99]; tracks: {ids}")):
        read_2d(mm, tracks=[99])
    with pytest.raises(InputError, match="subject/action/camera choose an entry of a VideoPose3D"):
        read_2d(mm, subject="S9")
