"""Hostile and careless input, reproduced: what each case of issue 18 gets now, with the memory it costs.

    python experiments/scripts/hostile_input.py [--work DIR] [--limit-mib 3072]

Builds every crafted file in a scratch folder (nothing downloaded, nothing from
Human3.6M), runs what a user would run (the ``poselift`` command line in a
subprocess, or a few lines of Python), and prints Markdown tables: per case the
exit code, the first line of the error (or the result), the peak resident
memory of the process (``ru_maxrss`` from ``wait4``; the interpreter with
torch imported is about 300-400 MiB of it) and the wall time. A watchdog kills
a process whose resident memory passes ``--limit-mib`` (reported as such).

Then the concurrency reproductions (two ``train`` into one folder; a
``--resume`` while the first runs) and the export kill points (an export killed
with SIGKILL at each step, checking that the folder is the old export or the
new one, never a mix).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np

PY = sys.executable
CONFIG = """\
name: tiny
seed: {seed}
device: cpu
data:
  dataset: synthetic
  path: null
  synthetic: {{subjects: 1, test_subjects: 1, num_frames: 120, test_num_frames: 60}}
model: {{widths: [3, 3], channels: 16, dropout: 0.1}}
train: {{epochs: {epochs}, batch_size: 64, windows_per_epoch: {windows}}}
eval: {{eval_every: 0}}
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONWARNINGS": "ignore"}


# --------------------------------------------------------------------------- running and measuring
def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# A small process forks the command and reports its ru_maxrss: measured from this script itself, the
# child's high-water mark would start at this script's resident size (fork copies it; exec keeps it).
WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def run(argv: list[str], cwd: Path, limit_mib: float, timeout: float = 300.0, env: dict | None = None) -> dict:
    """Run ``argv``; exit code, stdout, stderr, peak RSS (MiB) and seconds; killed above ``limit_mib``."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    peak_file = Path(tempfile.mkstemp(suffix=".maxrss")[1])
    t0 = time.perf_counter()
    proc = subprocess.Popen([PY, "-c", WRAPPER, str(peak_file), *argv], cwd=cwd, stdout=out, stderr=err,
                            env=env or ENV)
    note = ""
    while proc.poll() is None:
        kids = _children(proc.pid)
        if sum(_rss_mib(k) for k in kids) > limit_mib:
            for k in kids:
                os.kill(k, signal.SIGKILL)
            note = f"killed by the watchdog above {limit_mib:.0f} MiB"
        elif time.perf_counter() - t0 > timeout:
            for k in kids:
                os.kill(k, signal.SIGKILL)
            note = f"killed after {timeout:.0f} s"
        time.sleep(0.02)
    out.seek(0)
    err.seek(0)
    text = peak_file.read_text().strip()
    peak_file.unlink()
    rc = proc.returncode if proc.returncode < 128 else -(proc.returncode - 128)
    return {"rc": rc, "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"), "peak_mib": int(text) / 1024 if text else float("nan"),
            "seconds": time.perf_counter() - t0, "note": note}


def cli(*args: str) -> list[str]:
    return [PY, "-m", "poselift", "--threads", "1", *args]


def python(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def first_line(r: dict) -> str:
    """The first line of stderr (the last one after a Python traceback, which names the exception)."""
    lines = [ln for ln in r["stderr"].splitlines() if ln.strip() and "Warning" not in ln]
    text = r["note"] or (lines[-1] if lines and lines[0].startswith("Traceback") else lines[0] if lines else "")
    if not text:
        text = next((ln for ln in reversed(r["stdout"].splitlines()) if ln.strip()), "")
    return text if len(text) <= 230 else text[:227] + "..."


# --------------------------------------------------------------------------- crafted files
def keypoints_file(path: Path, frames: int = 200, value: float | None = None, num_frames: int | None = None) -> None:
    """Our HDF5 2D file: one synthetic person filmed by one camera (``value``: every coordinate set to it)."""
    from poselift.datasets.synthetic import make_dataset
    from poselift.detectors.formats import KeypointTracks, write_keypoints_h5
    from poselift.detectors.tracking import fill_track

    seq = make_dataset(1, ["walk"], 1, frames, seed=3)[0]
    kp = seq.keypoints.astype(np.float32)
    if value is not None:
        kp = np.full_like(kp, value)
    track = fill_track(range(frames), kp, np.full(kp.shape[:2], 0.9, np.float32), track_id=1)
    write_keypoints_h5(path, KeypointTracks([track], "h36m17", seq.image_size, 50.0, num_frames or frames,
                                            "synthetic", "test"))


def lying_h5(path: Path, frames_declared: int) -> None:
    """A valid 2D file whose ``frames`` dataset is then declared ``(frames_declared,)`` int64 (nothing stored)."""
    import h5py

    keypoints_file(path, frames=10)
    with h5py.File(path, "r+") as f:
        tg = f["tracks/track_00001"]
        del tg["frames"]
        tg.create_dataset("frames", shape=(frames_declared,), dtype="i8")


def lying_npz(path: Path, shape=(10**11, 17, 3)) -> None:
    """An npz whose only member declares ``shape`` float64 and holds 100 bytes."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("keypoints.npy", buf.getvalue() + b"\0" * 100)


def zip_bomb(path: Path, gbytes: float = 1.2) -> None:
    """An npz whose member is ``gbytes`` GB of zeros, deflated to about a thousandth of that."""
    frames = int(gbytes * 1e9 / (17 * 3 * 8))
    import io

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False, "shape": (frames, 17, 3)})
    zero = bytes(2**24)
    left = frames * 17 * 3 * 8
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("keypoints.npy", "w", force_zip64=True) as fh:
            fh.write(head.getvalue())
            while left > 0:
                fh.write(zero[: min(left, len(zero))])
                left -= len(zero)


def edited_checkpoint(src_run: Path, dst_run: Path, edit) -> None:
    import torch

    shutil.copytree(src_run, dst_run)
    state = torch.load(dst_run / "checkpoint.pt", weights_only=True)
    edit(state)
    torch.save(state, dst_run / "checkpoint.pt")


def huge_onnx(path: Path) -> None:
    from poselift.detectors.standins import bodyposenet_standin

    path.write_bytes(bodyposenet_standin(np.zeros((36, 48, 19), np.float32), np.zeros((36, 48, 38), np.float32),
                                         input_size=(33000, 33000)))


# --------------------------------------------------------------------------- issue 22's crafted inputs
LOADER_FILE = """
from pathlib import Path
Path(__file__).with_name("MARKER_FILE").write_text("ran")  # importing this file is running code
def f(**kw):
    raise SystemExit("the loader ran")
"""


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """``levels`` levels of YAML aliases, each list naming the previous ``width`` times (9^9 ~ 4e8 nodes)."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "{" + ", ".join(lines) + "}"


def expanded_vp3d(path: Path, n: int = 6000) -> None:
    """A VideoPose3D-layout file whose weights are ``torch.zeros(1).expand(...)`` (a few kB on disk)."""
    import torch

    sd = {"expand_conv.weight": torch.zeros(1).expand(n, 34, 3), "expand_bn.weight": torch.ones(1).expand(n),
          "expand_bn.bias": torch.zeros(1).expand(n), "expand_bn.running_mean": torch.zeros(1).expand(n),
          "expand_bn.running_var": torch.ones(1).expand(n), "expand_bn.num_batches_tracked": torch.tensor(0),
          "shrink.weight": torch.zeros(1).expand(51, n, 1), "shrink.bias": torch.zeros(51)}
    for i in range(2):
        sd[f"layers_conv.{i}.weight"] = torch.zeros(1).expand(n, n, 3 if i == 0 else 1)
        for k, v in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            sd[f"layers_bn.{i}.{k}"] = torch.full((1,), v).expand(n)
        sd[f"layers_bn.{i}.num_batches_tracked"] = torch.tensor(0)
    torch.save({"model_pos": sd, "epoch": 1}, path)


def expanded_run(src_run: Path, dst_run: Path, channels: int = 6000) -> None:
    """A copy of a run whose checkpoint claims ``channels`` channels, every weight an expanded one-element tensor."""
    import torch

    from poselift.model.tcn import TemporalLifter

    shutil.copytree(src_run, dst_run, dirs_exist_ok=True)
    state = torch.load(dst_run / "checkpoint.pt", weights_only=True)
    state["model_config"]["channels"] = channels
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in TemporalLifter(**state["model_config"]).state_dict().items()}
    state["model"] = {k: (torch.zeros(1).expand(*s) if len(s) else torch.tensor(0)) for k, s in shapes.items()}
    torch.save(state, dst_run / "checkpoint.pt")


def hdf5_attacks(w: Path) -> dict[str, Path]:
    """Our 2D file with, in turn: 10 extra tracks declaring ~60 MB each, never written; keypoints stored
    externally in /dev/zero and in /etc/passwd; keypoints as an external link; keypoints as a virtual dataset."""
    import h5py

    out = {}
    keypoints_file(w / "h5_base.h5")
    t = 200

    def variant(name, edit):
        p = w / f"{name}.h5"
        shutil.copy(w / "h5_base.h5", p)
        with h5py.File(p, "r+") as f:
            edit(f)
        out[name] = p

    def ten_tracks(f):
        g = f["tracks"]
        n = 900_000  # 900k frames x 17 x 2 float32 = 61 MB declared per track, nothing stored
        for i in range(2, 12):
            tg = g.create_group(f"track_{i:05d}")
            tg.attrs["track_id"] = i
            tg.create_dataset("frames", shape=(n,), dtype="i8", chunks=(65536,), compression="gzip")
            tg.create_dataset("keypoints", shape=(n, 17, 2), dtype="f4", chunks=(4096, 17, 2), compression="gzip")
            tg.create_dataset("confidence", shape=(n, 17), dtype="f4", chunks=(4096, 17), compression="gzip")
            tg.create_dataset("interpolated", shape=(n, 17), dtype="bool", chunks=(4096, 17), compression="gzip")

    def external(target, frames, everything):
        def edit(f):
            tg = f["tracks/track_00001"]
            for nm in ("frames", "keypoints", "confidence", "interpolated", "detected"):
                del tg[nm]
            ext = [(target, 0, h5py.h5f.UNLIMITED)]
            for nm, shape, dtype in (("frames", (frames,), "i8"), ("keypoints", (frames, 17, 2), "f4"),
                                     ("confidence", (frames, 17), "f4"), ("interpolated", (frames, 17), "bool"),
                                     ("detected", (frames,), "bool")):
                if everything or nm in ("keypoints", "confidence"):
                    tg.create_dataset(nm, shape=shape, dtype=dtype, external=ext)
                else:
                    data = np.arange(frames) if nm == "frames" else np.full(shape, nm == "detected")
                    tg.create_dataset(nm, data=data)
        return edit

    def link(f):
        del f["tracks/track_00001/keypoints"]
        f["tracks/track_00001/keypoints"] = h5py.ExternalLink(str(w / "h5_base.h5"), "/tracks/track_00001/keypoints")

    def virtual(f):
        del f["tracks/track_00001/keypoints"]
        layout = h5py.VirtualLayout(shape=(t, 17, 2), dtype="f4")
        layout[:] = h5py.VirtualSource(str(w / "h5_base.h5"), "/tracks/track_00001/keypoints", shape=(t, 17, 2))
        f["tracks/track_00001"].create_virtual_dataset("keypoints", layout)

    variant("h5_ten_tracks", ten_tracks)
    variant("h5_dev_zero", external("/dev/zero", 20_000_000, True))  # 20M frames: 5.1 GB of zeros declared
    variant("h5_passwd", external("/etc/passwd", 2, False))
    variant("h5_external_link", link)
    variant("h5_virtual", virtual)
    return out


def evil_onnx(path: Path, location: str = "../../../../etc/passwd") -> None:
    """A BodyPoseNet stand-in whose first weight is stored "externally" at ``location``."""
    import onnx

    from poselift.detectors.standins import bodyposenet_standin

    m = onnx.load_from_string(bodyposenet_standin(np.zeros((36, 48, 19), np.float32),
                                                  np.zeros((36, 48, 38), np.float32)))
    t = next(t for t in m.graph.initializer if t.raw_data)
    nbytes = len(t.raw_data)
    t.ClearField("raw_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(nbytes))):
        e = t.external_data.add()
        e.key, e.value = k, v
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(m, path)


def json_attacks(w: Path, nested_mb: int = 200, people: int = 10**7) -> None:
    """A ``nested_mb`` MB DeepStream JSON of nested lists, and an MMPose JSON with ``people`` people in one frame."""
    n = nested_mb * 10**6 // 2
    with open(w / "deep_deepstream.json", "w") as f:
        f.write('{"batches": ')
        for _ in range(n // 10**6):
            f.write("[" * 10**6)
        for _ in range(n // 10**6):
            f.write("]" * 10**6)
        f.write("}")
    with open(w / "mmpose_people.json", "w") as f:
        f.write('{"instance_info": [{"frame_id": 0, "instances": [')
        block = ",".join(["{}"] * 10**5)
        for i in range(people // 10**5):
            f.write(("," if i else "") + block)
        f.write("]}]}")


def duplicate_npz(path: Path) -> None:
    """An npz holding two members named ``keypoints``: zeros, then a copy with a far-away joint."""
    import io

    def npy(a):
        b = io.BytesIO()
        np.save(b, a)
        return b.getvalue()

    kp = np.zeros((50, 17, 2))
    far = kp.copy()
    far[10, 3] = 1e6
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("keypoints.npy", npy(kp))
        z.writestr("keypoints.npy", npy(far))


def long_keypoints(path: Path, frames: int) -> None:
    """One person over ``frames`` frames (random joints and confidences, as incompressible as real ones)."""
    from poselift.detectors.formats import KeypointTracks, write_keypoints_h5
    from poselift.detectors.tracking import fill_track

    rng = np.random.default_rng(0)
    kp = (500 + 50 * rng.standard_normal((frames, 17, 2))).astype(np.float32)
    track = fill_track(range(frames), kp, rng.uniform(0.3, 1, (frames, 17)).astype(np.float32), track_id=1)
    write_keypoints_h5(path, KeypointTracks([track], "h36m17", (1000, 1000), 50.0, frames, "synthetic", "test"))


def cases22(w: Path, run_a: Path, quick: bool) -> list[tuple]:
    """Issue 22's cases: (item, case, argv, env, check) where ``check()`` says what was left behind."""
    import yaml

    cfg = w / "tiny.yaml"
    ra = str(run_a)
    if not (w / "keypoints.h5").exists():
        keypoints_file(w / "keypoints.h5")
    if not (w / "huge.onnx").exists():
        huge_onnx(w / "huge.onnx")
    marker = lambda name: (lambda: f"{name} created: {'YES' if (w / name).exists() else 'no'}")  # noqa: E731
    # 1: code named by a config or a run folder
    evil_run = w / "run_evil"
    shutil.copytree(run_a, evil_run, dirs_exist_ok=True)
    d = yaml.safe_load((evil_run / "config.yaml").read_text())
    d["data"].update(dataset="loader", loader="os:system", loader_args={"command": f"touch {w / 'M_run'}"},
                     path=None)
    (evil_run / "config.yaml").write_text(yaml.safe_dump(d))
    (w / "evil_loader.py").write_text(LOADER_FILE.replace("MARKER_FILE", "M_file"))
    file_cfg = w / "file_loader.yaml"
    file_cfg.write_text(CONFIG.format(seed=0, epochs=1, windows=128).replace(
        "  dataset: synthetic\n", "  dataset: loader\n  loader: evil_loader.py:f\n"))
    os_system = ["--set", "data.dataset=loader", "--set", "data.loader=os:system", "--set",
                 f"data.loader_args={{command: 'touch {w / 'M_set'}'}}"]
    # 2: YAML alias bombs
    bomb = f"""name: bomb\nseed: 0\ndevice: cpu\ndata:\n  dataset: synthetic\n  loader_args: {alias_bomb()}\n"""
    (w / "bomb.yaml").write_text(bomb)
    (w / "bomb_settings.yaml").write_text(f"preprocess: {alias_bomb()}\n")
    # 3: expanded tensors
    expanded_vp3d(w / "expanded_vp3d.bin")
    expanded_run(run_a, w / "run_expanded")
    expanded_run(run_a, w / "run_expanded_resume", channels=16)
    # 4: HDF5
    h5 = hdf5_attacks(w)
    # 5: smaller ones
    import pickle

    (w / "raw.pkl").write_bytes(pickle.dumps({"model_pos": {"expand_conv.weight": [0.0] * 10}}))
    frames = 200_000 if quick else 1_000_000
    long_keypoints(w / "long_person.h5", frames)
    # 6: not tried before
    evil_onnx(w / "onnx" / "evil.onnx")
    from PIL import Image

    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(w / "frame.png")
    json_attacks(w, nested_mb=20 if quick else 200)
    duplicate_npz(w / "duplicate.npz")
    lift = lambda kp, *more: cli("lift", str(kp), "--run", ra, "--out", str(w / "poses22.h5"), "--quiet", *more)  # noqa: E731
    size = lambda p: f"{Path(p).stat().st_size / 1e3:,.0f} kB"  # noqa: E731
    return [
        ("22.1", "train --set data.loader=os:system (touch M_set)",
         cli("train", str(cfg), "--out", str(w / "runs" / "evil_set"), "--no-progress", *os_system), None,
         marker("M_set")),
        ("22.1", "evaluate RUN whose config.yaml names os:system (touch M_run)",
         cli("evaluate", str(evil_run), "--no-progress"), None, marker("M_run")),
        ("22.1", "compare RUN (the same run folder)", cli("compare", str(evil_run)), None, marker("M_run")),
        ("22.1", "figures RUN (the same run folder)",
         cli("figures", str(evil_run), "--out", str(w / "fig22"), "--frames", "5", "--no-progress"), None,
         marker("M_run")),
        ("22.1", "reproduce RUN (the same run folder)",
         cli("reproduce", str(evil_run), "--out", str(w / "again22"), "--no-progress"), None, marker("M_run")),
        ("22.1", "data.loader: evil_loader.py:f (writes M_file when imported)",
         cli("train", str(file_cfg), "--out", str(w / "runs" / "evil_file"), "--no-progress"), None,
         marker("M_file")),
        ("22.1", "the same with POSELIFT_ALLOW_CODE=1 (the user allows it)",
         cli("train", str(file_cfg), "--out", str(w / "runs" / "evil_file2"), "--no-progress"),
         {**ENV, "POSELIFT_ALLOW_CODE": "1"}, marker("M_file")),
        ("22.2", f"config with a nine-level YAML alias bomb ({size(w / 'bomb.yaml')})",
         cli("train", str(w / "bomb.yaml"), "--out", str(w / "runs" / "bomb")), None, None),
        ("22.2", "--set data.loader_args=<alias bomb>",
         cli("train", str(cfg), "--out", str(w / "runs" / "bomb2"), "--set", f"data.loader_args={alias_bomb()}"),
         None, None),
        ("22.2", "detect --settings <alias bomb>",
         cli("detect", str(w / "frame.png"), "--model", str(w / "huge.onnx"), "--out", str(w / "k22.h5"),
             "--settings", str(w / "bomb_settings.yaml"), "--quiet", "--providers", "cpu"), None, None),
        ("22.3", f"import a VideoPose3D file of expanded 6000-channel weights ({size(w / 'expanded_vp3d.bin')})",
         cli("import", str(w / "expanded_vp3d.bin"), "--out", str(w / "runs" / "imported_expanded"), "--layout",
             "h36m17"), None,
         lambda: f"checkpoint written: {(w / 'runs' / 'imported_expanded' / 'checkpoint.pt').exists()}"),
        ("22.3", f"lift with a checkpoint of expanded 6000-channel weights "
                 f"({size(w / 'run_expanded' / 'checkpoint.pt')})",
         cli("lift", str(w / "keypoints.h5"), "--run", str(w / "run_expanded"), "--out", str(w / "p22.h5")), None,
         None),
        ("22.3", "train --resume from a checkpoint of expanded weights",
         cli("train", str(cfg), "--resume", str(w / "run_expanded_resume"), "--no-progress"), None, None),
        ("22.4", f"HDF5: 10 tracks x 61 MB declared, never written ({size(h5['h5_ten_tracks'])})",
         lift(h5["h5_ten_tracks"]), None, None),
        ("22.4", f"HDF5: keypoints stored in /dev/zero, 20M frames ({size(h5['h5_dev_zero'])})",
         lift(h5["h5_dev_zero"]), None, None),
        ("22.4", "HDF5: keypoints stored in /etc/passwd", lift(h5["h5_passwd"]), None, None),
        ("22.4", "HDF5: keypoints an external link", lift(h5["h5_external_link"]), None, None),
        ("22.4", "HDF5: keypoints a virtual dataset", lift(h5["h5_virtual"]), None, None),
        ("22.5", "import a raw (non-torch) pickle",
         cli("import", str(w / "raw.pkl"), "--out", str(w / "runs" / "raw"), "--layout", "h36m17"), None, None),
        ("22.5", f"lift one person over {frames:,} frames ({Path(w / 'long_person.h5').stat().st_size / 1e6:.0f} MB)",
         lift(w / "long_person.h5"), None, None),
        ("22.6", "detect with an ONNX model whose weight is external data at ../../../../etc/passwd",
         cli("detect", str(w / "frame.png"), "--model", str(w / "onnx" / "evil.onnx"), "--out", str(w / "k22.h5"),
             "--quiet", "--providers", "cpu"), None, None),
        ("22.6", f"DeepStream JSON of nested lists ({Path(w / 'deep_deepstream.json').stat().st_size / 1e6:.0f} MB)",
         lift(w / "deep_deepstream.json", "--image-size", "100x100"), None, None),
        ("22.6", f"MMPose JSON with 10^7 people in a frame "
                 f"({Path(w / 'mmpose_people.json').stat().st_size / 1e6:.0f} MB)",
         lift(w / "mmpose_people.json", "--image-size", "100x100"), None, None),
        ("22.6", "npz with two members named 'keypoints'",
         lift(w / "duplicate.npz", "--image-size", "100x100", "--layout", "h36m17"), None, None),
    ]


KILL_AT = """
import os, signal, sys
n, calls, real = int(sys.argv[1]), [0], os.replace
def replace(*a, **k):  # SIGKILL this process at its n-th atomic rename (the n-th file about to be put in place)
    calls[0] += 1
    if calls[0] == n:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*a, **k)
os.replace = replace
from poselift.commands import main
sys.exit(main(sys.argv[2:]))
"""


def kills22(w: Path, run_a: Path, limit: float) -> list[str]:
    """SIGKILL during import, export and prepare, then the same command again."""
    import h5py

    from poselift.checkpoint import load_checkpoint

    vp3d = w / "vp3d_ok.bin"
    from poselift.model.tcn import TemporalLifter

    import torch

    m = TemporalLifter(17, 17, (3, 3), channels=64)
    sd = {}
    for k, v in m.state_dict().items():  # poselift's names -> VideoPose3D's (the importer maps them back)
        k = k.replace("block_convs", "layers_conv").replace("block_bns", "layers_bn")
        sd[k] = v
    torch.save({"model_pos": sd, "epoch": 1}, vp3d)
    k = w / "kill"
    commands = [
        (f"import, killed at its {n}{'st' if n == 1 else 'nd'} file", 
         ["import", str(vp3d), "--out", str(k / f"import{n}" / "run"), "--layout", "h36m17"], n, k / f"import{n}",
         lambda n=n: load_checkpoint(k / f"import{n}" / "run" / "checkpoint.pt") and "checkpoint ok")
        for n in (1, 2)
    ] + [("export, killed at its 1st file", ["export", str(run_a), "--out", str(k / "export" / "onnx")], 1,
          k / "export", lambda: f"files {sorted(p.name for p in (k / 'export' / 'onnx').iterdir())}")]
    h36m = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "h36m"
    if h36m.is_dir():
        cache = k / "prepare" / "cache_s9.h5"
        commands.append(("prepare h36m --subjects S9, killed at its 1st file",
                         ["prepare", "h36m", "--source", str(h36m), "--out", str(cache), "--subjects", "S9",
                          "--no-progress"], 1, k / "prepare",
                         lambda: f"cache readable: {len(h5py.File(cache, 'r')['poses3d/S9'])} takes"))
    rows = []
    for name, argv, n, watch, check in commands:
        watch.mkdir(parents=True, exist_ok=True)
        killed = subprocess.run([PY, "-c", KILL_AT, str(n), "--threads", "1", *argv], env=ENV,
                                capture_output=True, text=True, timeout=600)
        left = sorted(str(p.relative_to(watch)) for p in watch.rglob("*"))
        again = run([PY, "-m", "poselift", "--threads", "1", *argv], w, limit)
        try:
            ok = check() if again["rc"] == 0 else first_line(again)
        except Exception as e:  # noqa: BLE001 - reported in the table
            ok = f"{type(e).__name__}: {e}"
        rows.append(f"| {name} | killed: {killed.returncode == -signal.SIGKILL}; left {left[:6]} | exit {again['rc']}: "
                    f"{ok} | {sorted(p.name for p in watch.rglob('.*'))} |")
    return rows


# --------------------------------------------------------------------------- the cases
def cases(w: Path, run_a: Path) -> list[tuple[str, str, list[str], dict | None]]:
    """(issue item, case, argv, env)."""
    cfg = w / "tiny.yaml"
    out = lambda name: str(w / "runs" / name)  # noqa: E731
    (w / "a_folder").mkdir(exist_ok=True)
    (w / "a_file").write_text("x")
    keypoints_file(w / "keypoints.h5")
    (w / "lr.yaml").write_text(CONFIG.format(seed=0, epochs=1, windows=128).replace(
        "train: {", "train: {lr: 3e-4, "))
    lying_npz(w / "lying.npz")
    lying_h5(w / "frames_2e8.h5", 200_000_000)
    lying_h5(w / "frames_4e9.h5", 4_000_000_000)
    keypoints_file(w / "num_frames_3e7.h5", frames=100, num_frames=30_000_000)
    zip_bomb(w / "bomb.npz")
    huge_onnx(w / "huge.onnx")
    from PIL import Image

    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(w / "frame.png")
    edited_checkpoint(run_a, w / "run_6000", lambda s: s["model_config"].update(channels=6000))
    edited_checkpoint(run_a, w / "run_nan", lambda s: s["model"]["expand_conv.weight"].view(-1)[:5].fill_(float("nan")))
    edited_checkpoint(run_a, w / "run_norng", lambda s: s.pop("rng"))
    keypoints_file(w / "far.h5", value=3e38)
    keypoints_file(w / "long.h5", frames=20_001)
    ra = str(run_a)
    lift = lambda kp, *more: cli("lift", str(w / kp), "--run", ra, "--out", str(w / "poses.h5"), "--quiet", *more)  # noqa: E731
    return [
        ("1", "diverging run: --set train.lr=1.0e+30", cli("train", str(cfg), "--out", out("div"), "--no-progress",
                                                         "--set", "train.lr=1.0e+30"), None),
        ("1", "--device cuda on a CPU-only machine", cli("train", str(cfg), "--out", out("cuda"), "--device", "cuda"),
         None),
        ("1", "a folder given as config", cli("train", str(w / "a_folder")), None),
        ("1", "table --out an existing folder", cli("table", ra, "--out", str(w / "a_folder")), None),
        ("1", "lift --out an existing folder", cli("lift", str(w / "keypoints.h5"), "--run", ra, "--out",
                                                   str(w / "a_folder")), None),
        ("1", "export --out an existing file", cli("export", ra, "--out", str(w / "a_file")), None),
        ("1", "demo --out an existing file", cli("demo", "--quick", "--out", str(w / "a_file")), None),
        ("1", "figures --out an existing file", cli("figures", ra, "--out", str(w / "a_file")), None),
        ("1", "--threads -1", [PY, "-m", "poselift", "--threads", "-1", "evaluate", ra], None),
        ("1", "POSELIFT_THREADS=abc", [PY, "-m", "poselift", "evaluate", ra], {**ENV, "POSELIFT_THREADS": "abc"}),
        ("1", "data.synthetic.noise: {bogus: 1}", cli("train", str(cfg), "--out", out("noise"), "--set",
                                                     "data.synthetic.noise={bogus: 1}"), None),
        ("1", "train.bn_momentum=[0, 0.001]", cli("train", str(cfg), "--out", out("bn0"), "--set",
                                                 "train.bn_momentum=[0, 0.001]"), None),
        ("1", "train.bn_momentum=[-0.1, 0.001]", cli("train", str(cfg), "--out", out("bnneg"), "--set",
                                                    "train.bn_momentum=[-0.1, 0.001]"), None),
        ("2", "--set train.lr=1e-4", cli("train", str(cfg), "--out", out("lr4"), "--no-progress", "--set",
                                         "train.lr=1e-4", "--set", "train.epochs=1"), None),
        ("2", "lr: 3e-4 in a config file", cli("train", str(w / "lr.yaml"), "--out", out("lr3"), "--no-progress"),
         None),
        ("3", f"npz declaring (1e11, 17, 3) float64 ({(w / 'lying.npz').stat().st_size} B)", lift("lying.npz"),
         None),
        ("3", f"HDF5 declaring 4e9 frames ({(w / 'frames_4e9.h5').stat().st_size / 1e3:.1f} kB)",
         lift("frames_4e9.h5"), None),
        ("4", f"HDF5 frames declared (2e8,) int64 ({(w / 'frames_2e8.h5').stat().st_size / 1e3:.1f} kB)",
         lift("frames_2e8.h5"), None),
        ("4", f"HDF5 num_frames=3e7 + lift --render ({(w / 'num_frames_3e7.h5').stat().st_size / 1e3:.1f} kB)",
         lift("num_frames_3e7.h5", "--render", str(w / "anim.gif")), None),
        ("4", f"checkpoint with model_config.channels 6000 "
              f"({(w / 'run_6000' / 'checkpoint.pt').stat().st_size / 1e3:.0f} kB)",
         cli("lift", str(w / "keypoints.h5"), "--run", str(w / "run_6000"), "--out", str(w / "p.h5")), None),
        ("4", f"ONNX with a declared 33000x33000 input ({(w / 'huge.onnx').stat().st_size / 1e3:.0f} kB)",
         cli("detect", str(w / "frame.png"), "--model", str(w / "huge.onnx"), "--out", str(w / "k.h5"), "--quiet",
             "--providers", "cpu"), None),
        ("4", f"zip-bomb npz, {(w / 'bomb.npz').stat().st_size / 1e6:.1f} MB expanding to 1.2 GB", lift("bomb.npz"),
         None),
        ("7", "train.windows_per_epoch=0", cli("train", str(cfg), "--out", out("w0"), "--set",
                                               "train.windows_per_epoch=0"), None),
        ("7", "train.windows_per_epoch=-5", cli("train", str(cfg), "--out", out("w5"), "--set",
                                                "train.windows_per_epoch=-5"), None),
        ("7", "checkpoint with NaN weights -> lift", cli("lift", str(w / "keypoints.h5"), "--run", str(w / "run_nan"),
                                                         "--out", str(w / "p.h5")), None),
        ("7", "StreamingLifter.push(float64 1e39)", python(f"""
            import numpy as np
            from poselift.inference import load_lifter
            from poselift.model.streaming import StreamingLifter
            m = load_lifter({ra!r}, device="cpu").model
            s = StreamingLifter(m, allow_delay=True)
            x = np.zeros((17, 2)); x[3, 0] = 1e39
            s.push(x)
            """), None),
        ("7", "lift_sequence(float64 input with 1e39)", python(f"""
            import numpy as np
            from poselift.inference import load_lifter, lift_sequence
            m = load_lifter({ra!r}, device="cpu").model
            x = np.zeros((50, 17, 2)); x[7, 2, 1] = 1e39
            lift_sequence(m, x)
            """), None),
        ("7", "keypoints of 3e38 px -> lift", lift("far.h5"), None),
        ("8", "checkpoint without 'rng' -> train --resume",
         cli("train", str(cfg), "--resume", str(w / "run_norng"), "--no-progress"), None),
        ("8", "--quiet with a 20,001-frame track (stderr empty?)", lift("long.h5"), None),
    ]


def run_cases(w: Path, run_a: Path, limit: float, quick: bool = False) -> list[dict]:
    rows = []
    todo = [(*c, None) for c in cases(w, run_a)] if not quick else []
    todo += cases22(w, run_a, quick)
    for item, name, argv, env, check in todo:
        r = run(argv, w, limit, env=env)
        text = first_line(r)
        if check is not None:
            text = f"{text} [{check()}]"
        if "--quiet" in name:
            text = f"stderr has {len(r['stderr'].strip().splitlines())} line(s); stdout: {first_line({**r, 'stderr': ''})}"
        rows.append({"item": item, "case": name, "rc": r["rc"], "text": text, "peak_mib": r["peak_mib"],
                     "seconds": r["seconds"], "lines": len([ln for ln in r["stderr"].splitlines() if ln.strip()])})
        print(f"  {name}: rc {r['rc']}, {r['peak_mib']:.0f} MiB, {r['seconds']:.1f} s", file=sys.stderr)
    return rows


# --------------------------------------------------------------------------- concurrency
def concurrency(w: Path, limit: float) -> list[str]:
    from concurrent.futures import ThreadPoolExecutor

    cfg = w / "long.yaml"
    cfg.write_text(CONFIG.format(seed=0, epochs=80, windows=4096))  # about 40 s of training on 2 cores
    run_dir = w / "runs" / "shared"
    first = subprocess.Popen(cli("train", str(cfg), "--out", str(run_dir), "--no-progress"), cwd=w, env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoint.pt").exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    others = [cli("train", str(cfg), "--out", str(run_dir), "--no-progress"),
              cli("train", str(cfg), "--resume", str(run_dir), "--no-progress"),
              cli("evaluate", str(run_dir), "--no-progress"), cli("export", str(run_dir))]
    with ThreadPoolExecutor(len(others)) as pool:  # all while the first one trains
        second, resume, evaluate, export = pool.map(lambda a: run(a, w, limit), others)
    still = first.poll() is None
    out, err = first.communicate(timeout=600)
    if not still:
        print("warning: the first run ended before the others were refused; make it longer", file=sys.stderr)
    rows = [f"| first `train --out runs/shared` | exit {first.returncode} | "
            f"{(out.strip().splitlines() or [''])[-1]} |"]
    for what, r in (("second `train --out runs/shared` while it runs", second),
                    ("`train --resume runs/shared` while it runs", resume),
                    ("`evaluate runs/shared` while it runs", evaluate),
                    ("`export runs/shared` while it runs", export)):
        rows.append(f"| {what} | exit {r['rc']} | {first_line(r)} |")
    import csv

    logged = len(list(csv.DictReader(open(run_dir / "log.csv"))))
    leftovers = sorted(p.name for p in run_dir.iterdir() if p.name.startswith("."))
    rows.append(f"| the run folder afterwards | | log.csv {logged} rows, metrics.json "
                f"{'present' if (run_dir / 'metrics.json').exists() else 'MISSING'}, hidden files {leftovers} |")
    return rows


# --------------------------------------------------------------------------- export kill points
KILL_CODE = """
import os, signal, sys
import poselift.core.io as io
import poselift.model.onnx as onnx_mod
from poselift.experiments.run_folder import export_run

point = int(sys.argv[1])
count = [0]

def step():
    count[0] += 1
    if count[0] == point:
        os.kill(os.getpid(), signal.SIGKILL)

def wrap(mod, name):
    orig = getattr(mod, name)
    def f(*a, **k):
        out = orig(*a, **k)
        step()
        return out
    setattr(mod, name, f)

wrap(onnx_mod, "_write_onnx")           # 1: lifter.onnx written, 2: lifter_step.onnx written
wrap(onnx_mod, "file_sha256")           # 3, 4: hashes computed
wrap(onnx_mod, "atomic_write_json")     # 5: export.json written
orig_fsync = io._fsync_tree
def fsync(p):                           # 6: the new folder complete, before the swap
    orig_fsync(p)
    step()
io._fsync_tree = fsync
orig_exchange = io._exchange
def exchange(a, b):                     # 7: swapped, the old folder not yet removed
    ok = orig_exchange(a, b)
    step()
    return ok
io._exchange = exchange
export_run(sys.argv[2], sys.argv[3])
print("finished")
"""


def export_kills(w: Path, run_a: Path, run_b: Path) -> list[str]:
    from poselift.model.onnx import read_export
    from poselift.model.onnx_runtime import OnnxSequenceModel

    out = w / "export"
    x = np.random.default_rng(0).normal(0, 0.3, (1, 40, 17, 2)).astype(np.float32)
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(cli("export", str(run_b), "--out", str(out / "new")), check=True, capture_output=True, env=ENV)
    y_new = OnnxSequenceModel(out / "new")(x)
    rows = []
    for point in range(1, 9):
        target = out / "target"
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(cli("export", str(run_a), "--out", str(target)), check=True, capture_output=True, env=ENV)
        y_old = OnnxSequenceModel(target)(x)
        r = subprocess.run([PY, "-c", KILL_CODE, str(point), str(run_b), str(target)], env=ENV, capture_output=True,
                           text=True)
        killed = r.returncode == -signal.SIGKILL
        try:
            read_export(target)  # every file against its recorded hash
            y = OnnxSequenceModel(target)(x)
            state = ("old export" if np.array_equal(y, y_old) else "new export" if np.array_equal(y, y_new)
                     else "MIXED")
        except FileNotFoundError:
            state = "no folder (both exports kept under .tmp names)"
        except Exception as e:  # noqa: BLE001 - a mixed or damaged folder must be detected
            state = f"detected: {type(e).__name__}: {e}"
        hidden = sorted(p.name for p in target.parent.glob(".target.*.tmp"))
        again = run(cli("export", str(run_b), "--out", str(target)), w, 4096)
        after = "new export" if np.array_equal(OnnxSequenceModel(target)(x), y_new) else "WRONG"
        left = sorted(p.name for p in target.parent.glob(".target.*.tmp"))
        rows.append(f"| {point} | {'killed' if killed else 'finished (no such step)'} | {state} | "
                    f"{len(hidden)} | re-export: exit {again['rc']}, {after}, temps left {left} |")
    # the failure of the issue: a folder mixing two exports is detected
    mixed = out / "mixed"
    shutil.copytree(out / "new", mixed)
    subprocess.run(cli("export", str(run_a), "--out", str(w / "old_copy")), check=True, capture_output=True, env=ENV)
    shutil.copy(w / "old_copy" / "lifter.onnx", mixed / "lifter.onnx")
    try:
        OnnxSequenceModel(mixed)(x)
        rows.append("| mixed by hand | | NOT detected | | |")
    except Exception as e:  # noqa: BLE001
        rows.append(f"| new folder with the old lifter.onnx copied in | | {type(e).__name__}: {e} | | |")
    return rows


# --------------------------------------------------------------------------- kills around training
KILL_TRAIN = """
import os, signal, sys
import poselift.training.trainer as T
import poselift.checkpoint as C
mode = sys.argv[1]
if mode == "before_log":        # after the last checkpoint, before log.csv
    orig = T.Trainer._write_log
    def w(self):
        if self.epoch == self.settings.epochs:
            os.kill(os.getpid(), signal.SIGKILL)
        orig(self)
    T.Trainer._write_log = w
else:                           # inside the first checkpoint write: its .tmp is left behind
    import torch
    orig_save = torch.save
    def save(obj, f, *a, **k):
        orig_save(obj, f, *a, **k)
        os.kill(os.getpid(), signal.SIGKILL)
    torch.save = save
from poselift.commands import main
sys.exit(main(sys.argv[2:]))
"""


def training_kills(w: Path, limit: float) -> list[str]:
    import csv

    cfg = w / "tiny.yaml"
    rows = []
    for mode, what in (("before_log", "kill after the last checkpoint, before log.csv"),
                       ("first_save", "kill inside the first checkpoint write")):
        run_dir = w / "runs" / f"kill_{mode}"
        r = subprocess.run([PY, "-c", KILL_TRAIN, mode, "--threads", "1", "train", str(cfg), "--out", str(run_dir),
                            "--no-progress"], env=ENV, capture_output=True, text=True)
        tmp = sorted(p.name for p in run_dir.glob(".*.tmp"))
        logged = len(list(csv.DictReader(open(run_dir / "log.csv")))) if (run_dir / "log.csv").exists() else 0
        again = run(cli("train", str(cfg), "--out", str(run_dir), "--no-progress"), w, limit)
        logged2 = len(list(csv.DictReader(open(run_dir / "log.csv"))))
        import torch

        epoch = torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"]
        left = sorted(p.name for p in run_dir.glob(".*.tmp"))
        rows.append(f"| {what} | killed: {r.returncode == -signal.SIGKILL}, log {logged} row(s), temps {tmp} | "
                    f"same command again: exit {again['rc']}, checkpoint epoch {epoch}, log {logged2} rows, "
                    f"metrics.json {'present' if (run_dir / 'metrics.json').exists() else 'MISSING'}, "
                    f"temps left {left} |")
    # an invalid config leaves no run folder (default runs/<name>-<time> in the working directory)
    (w / "cwd").mkdir(exist_ok=True)
    for sets in (["data.synthetic.noise={bogus: 1}"], ["train.lr=1.0e+30"], ["data.keypoints=sh"]):
        r = run(cli("train", str(cfg), "--no-progress", *[a for s in sets for a in ("--set", s)]), w / "cwd", limit)
        left = sorted(str(p.relative_to(w / "cwd")) for p in (w / "cwd").rglob("*"))
        rows.append(f"| invalid run `--set {' '.join(sets)}`, no --out | exit {r['rc']}: {first_line(r)} | "
                    f"left behind: {left or 'nothing'} |")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed afterwards)")
    ap.add_argument("--limit-mib", type=float, default=3072)
    ap.add_argument("--quick", action="store_true", help="issue 22's cases only, with a 200,000-frame lift and a "
                    "20 MB nested JSON (under 5 minutes on 2 cores)")
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter whose poselift runs the cases (e.g. an older checkout's, for 'before')")
    args = ap.parse_args()
    global PY
    PY = args.python
    t_start = time.perf_counter()
    w = args.work or Path(tempfile.mkdtemp(prefix="poselift-hostile-"))
    w.mkdir(parents=True, exist_ok=True)
    try:
        (w / "tiny.yaml").write_text(CONFIG.format(seed=0, epochs=2, windows=256))
        (w / "tiny_b.yaml").write_text(CONFIG.format(seed=1, epochs=2, windows=256))
        run_a, run_b = w / "runs" / "a", w / "runs" / "b"
        for c, d in ((w / "tiny.yaml", run_a), (w / "tiny_b.yaml", run_b))[: 1 if args.quick else 2]:
            if not (d / "metrics.json").exists():
                subprocess.run(cli("train", str(c), "--out", str(d), "--no-progress"), check=True,
                               capture_output=True, env=ENV)
        import torch

        print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"torch {torch.__version__}, numpy {np.__version__}; peak = ru_maxrss of the process\n")
        rows = run_cases(w, run_a, args.limit_mib, args.quick)
        print("| # | case | exit | what it gets now (first line of stderr) | stderr lines | peak MiB | s |")
        print("|---|---|---:|---|---:|---:|---:|")
        for r in rows:
            print(f"| {r['item']} | {r['case']} | {r['rc']} | {r['text'].replace('|', '/')} | {r['lines']} | "
                  f"{r['peak_mib']:.0f} | {r['seconds']:.1f} |")
        print("\nKilled (SIGKILL) at its n-th atomic rename (a finished temporary about to be put in place), then the "
              "same command again:\n")
        print("| command | after the kill | the same command again | hidden files then |\n|---|---|---|---|")
        print("\n".join(kills22(w, run_a, args.limit_mib)))
        if args.quick:
            print(f"\nreplay wall time: {time.perf_counter() - t_start:.0f} s (--quick)")
            return 0
        print("\nConcurrent writers of one run folder:\n")
        print("| what | exit | result |\n|---|---|---|")
        print("\n".join(concurrency(w, args.limit_mib)))
        print("\nKills around training:\n")
        print("| what | after the kill | after running the same command again |\n|---|---|---|")
        print("\n".join(training_kills(w, args.limit_mib)))
        print("\nExport killed (SIGKILL) at step N while re-exporting another run over an existing export:\n")
        print("| N | export process | the folder then | .tmp left | then |\n|---|---|---|---|---|")
        print("\n".join(export_kills(w, run_a, run_b)))
        print(f"\nreplay wall time: {time.perf_counter() - t_start:.0f} s")
    finally:
        if args.work is None:
            shutil.rmtree(w, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
