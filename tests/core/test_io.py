"""poselift.core.io: npz archives read within their declared sizes, folders swapped in whole, checked outputs."""
from __future__ import annotations

import io
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import poselift.core.io as pio
from poselift.core.errors import (
    FileFormatError,
    InputError,
    UnsafePickleWarning,
    declared_too_large,
    reading,
)
from poselift.core.io import atomic_folder, check_output_file, check_output_folder, load_npz


def _member(shape, descr="<f8", payload=b"\0" * 100) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


def _peak_bytes(fn) -> int:
    """Peak of the memory Python and numpy allocate while ``fn`` runs (numpy reports to tracemalloc)."""
    tracemalloc.start()
    try:
        fn()
    except Exception:  # noqa: BLE001 - only the memory matters here
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_load_npz_reads_what_numpy_writes(tmp_path):
    a, b = np.arange(12.0).reshape(3, 4), np.ones((2, 17, 3), np.float32)
    np.savez(tmp_path / "plain.npz", a=a, b=b)
    np.savez_compressed(tmp_path / "packed.npz", a=a, b=b)
    for name in ("plain.npz", "packed.npz"):
        out = load_npz(tmp_path / name)
        assert sorted(out) == ["a", "b"] and np.array_equal(out["a"], a) and np.array_equal(out["b"], b)
        assert out["b"].dtype == np.float32
    assert sorted(load_npz(tmp_path / "plain.npz", ["b"])) == ["b"]
    assert sorted(load_npz(tmp_path / "plain.npz", ["b"], optional=["a", "zz"])) == ["a", "b"]
    with pytest.raises(FileFormatError, match=r"no entry 'zz' \(found \['a', 'b'\]\)"):
        load_npz(tmp_path / "plain.npz", ["zz"])


def test_a_member_declaring_more_than_it_holds_costs_kilobytes(tmp_path):
    path = tmp_path / "lying.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("keypoints.npy", _member((10**11, 17, 3)))
    assert path.stat().st_size < 400
    with pytest.raises(FileFormatError, match=r"'keypoints' declares a \(100000000000, 17, 3\) float64 array "
                                              r"\(40\.8 TB\) but holds 100 bytes: corrupt or truncated"):
        load_npz(path)
    # an array numpy could allocate (800 MB) is refused just the same, before allocating it
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("keypoints.npy", _member((10**8,)))
    assert _peak_bytes(lambda: load_npz(path)) < 2**20
    with pytest.raises(FileFormatError, match=r"\(800\.0 MB\) but holds 100 bytes"):
        load_npz(path)


def test_a_zip_bomb_is_refused_before_it_is_expanded(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("keypoints.npy", _member((2**21,), "<f8", bytes(8 * 2**21)))  # 16.8 MB of zeros
    assert path.stat().st_size < 100_000
    np.testing.assert_array_equal(load_npz(path)["keypoints"][:3], 0)  # under the 64 MiB free allowance: read
    monkeypatch.setattr(pio, "FREE_BYTES", 2**20)  # the same file as if it were 64x larger
    peak = _peak_bytes(lambda: load_npz(path))
    with pytest.raises(FileFormatError, match=r"refused: its members declare 16\.8 MB of data in a file of "
                                              r"[\d.]+ kB \(more than 200 times; a zip bomb"):
        load_npz(path)
    assert peak < 2**20  # nothing was expanded


def test_pickles_are_refused_unless_allowed(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, meta={"w": 3}, x=np.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before anything is unpickled: no warning either
        with pytest.raises(FileFormatError, match=r"'meta' stores Python objects \(pickle\).*allow_pickle=True"):
            load_npz(path)
        assert sorted(load_npz(path, ["x"])) == ["x"]  # plain members of the same file still read
    with pytest.warns(UnsafePickleWarning):
        assert load_npz(path, allow_pickle=True)["meta"].item() == {"w": 3}


def test_not_an_npz(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "one.npz").write_bytes((tmp_path / "one.npy").read_bytes())
    with pytest.raises(FileFormatError, match="a single .npy array, not an .npz archive"):
        load_npz(tmp_path / "one.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(FileFormatError, match=r"corrupt, truncated or not an .npz file \(BadZipFile"):
        load_npz(tmp_path / "text.npz")
    with pytest.raises(FileFormatError, match="is a folder"):
        load_npz(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "missing.npz")
    with zipfile.ZipFile(tmp_path / "junk.npz", "w") as z:
        z.writestr("x.npy", b"\x93NUMPY\x01\x00garbage")
    with pytest.raises(FileFormatError, match=r"'x': corrupt, truncated or not an .npy member"):
        load_npz(tmp_path / "junk.npz")


def test_numpys_refusal_of_a_declared_array_is_recognised_by_class():
    with pytest.raises(MemoryError) as info:
        np.empty((10**11, 17, 3))
    assert declared_too_large(info.value)  # numpy 2 names the class "MemoryError": no name test
    assert not declared_too_large(MemoryError("really out of memory"))
    with pytest.raises(FileFormatError, match="it declares an array too large to allocate"):
        with reading("f.bin", "test"):
            np.empty((10**11, 17, 3))
    with pytest.raises(MemoryError):  # the machine's own out-of-memory is never masked as a file problem
        with reading("f.bin", "test"):
            raise MemoryError()


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two renames"])
def test_atomic_folder_swaps_whole_folders(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(pio, "_exchange", lambda a, b: False)
    out = tmp_path / "export"
    with atomic_folder(out) as tmp:
        (tmp / "a").write_text("1")
        (tmp / "b").write_text("1")
        assert not out.exists()  # nothing visible before the whole folder is complete
    assert {p.name: p.read_text() for p in out.iterdir()} == {"a": "1", "b": "1"}
    with atomic_folder(out) as tmp:
        (tmp / "a").write_text("2")
        assert (out / "b").read_text() == "1"  # the old folder intact while the new one is written
    assert {p.name: p.read_text() for p in out.iterdir()} == {"a": "2"}
    with pytest.raises(RuntimeError):
        with atomic_folder(out) as tmp:
            (tmp / "a").write_text("3")
            raise RuntimeError("failed half way")
    assert {p.name: p.read_text() for p in out.iterdir()} == {"a": "2"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no temporaries left


def test_output_paths_are_checked_before_the_work(tmp_path):
    (tmp_path / "f").write_text("x")
    assert check_output_file(tmp_path / "new.h5") == tmp_path / "new.h5"
    with pytest.raises(InputError, match=r"--out .*: is a folder; give a file name"):
        check_output_file(tmp_path)
    assert check_output_folder(tmp_path) == tmp_path
    with pytest.raises(InputError, match=r"--render .*f: is a file, not a folder"):
        check_output_folder(tmp_path / "f", "--render")
    with pytest.raises(InputError, match="is a file, not a folder"):
        with atomic_folder(tmp_path / "f"):
            pass
