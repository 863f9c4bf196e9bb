"""Files in and out: atomic writes, checked output paths, and npz archives read within their declared sizes.

Everything the package writes that a user would be sorry to lose (checkpoints
(:mod:`poselift.checkpoint`), metrics, caches, logs) goes through :func:`atomic_path`: the content is written
to a temporary file in the destination folder, flushed to disk, then renamed
over the destination (``os.replace`` is atomic on POSIX and Windows). A folder
whose files must match each other (an ONNX export) is written whole beside the
old one and swapped in (:func:`atomic_folder`). Temporary names start with a dot
and end in ``.tmp``; the stale ones a kill leaves behind are removed by the
next process that locks the folder (:mod:`poselift.core.locks`).

:func:`load_npz` is the one way numpy ``.npz`` archives are read: pickles are
refused unless allowed, and every member's declared shape is checked against
the bytes the archive really holds before anything is allocated, so a
262-byte file declaring a terabyte array, or a zip bomb, costs kilobytes.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

__all__ = [
    "atomic_path",
    "atomic_folder",
    "atomic_write_text",
    "atomic_write_json",
    "read_json",
    "read_yaml",
    "json_text",
    "MAX_JSON_MEMORY",
    "open_h5",
    "check_onnx_external_data",
    "check_h5",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "MAX_YAML_DEPTH",
    "check_output_file",
    "check_output_folder",
    "load_npz",
    "format_bytes",
    "MAX_EXPANSION",
    "FREE_BYTES",
]

MAX_EXPANSION = 200
"""A file (an npz archive, an HDF5 dataset) may declare at most this many times the bytes it stores (beyond
64 MiB, :data:`FREE_BYTES`): real keypoint data compresses a few times, a zip bomb a thousand times, and a
header that lies about its size stores nothing at all."""
FREE_BYTES = 64 * 2**20
"""Declared sizes up to this are read without comparing them with what the file stores."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``path`` atomically.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    except OSError as e:
        raise _named(e, path) from None
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        named = _named(e, path)
        if named is not e:
            raise named from e
        raise


def _named(e: BaseException, path: Path) -> BaseException:
    """A full disk (or quota) while writing ``path``, as an ``OSError`` naming it: ``OSError: [Errno 28] No
    space left on device`` alone does not say where. torch and h5py report it in their own words (a
    ``RuntimeError`` "file write failed"); those are recognised too. Anything else: ``e`` unchanged."""
    import errno

    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) and e.filename is None:
        return OSError(e.errno, e.strerror or os.strerror(e.errno), str(path))
    text = str(e)
    if isinstance(e, (RuntimeError, OSError)) and ("No space left" in text or "write failed" in text
                                                   or "Disk quota" in text):
        with contextlib.suppress(OSError):
            if shutil.disk_usage(path.parent).free < 2**20 or "No space left" in text:
                return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return e


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _json_default(o: Any):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


MAX_JSON_MEMORY = 2 * 2**30
"""Most memory a JSON file may need once parsed, estimated before parsing from its values: about 232 bytes per
object, 72 per list and 32 per other value (Python's sizes), so 2 GiB is about 200 MB of real keypoint JSON."""


def json_text(path: str | os.PathLike, max_memory: int | None = None) -> str:
    """The text of a JSON file, refused before parsing when it would not parse in bounded memory.

    Counts the objects, lists and values the file can hold (its ``{``, ``[`` and commas: a C-speed pass over
    the bytes) and refuses a file whose parse would take more than ``max_memory`` (:data:`MAX_JSON_MEMORY`);
    the file is counted in blocks, so a refused file is never held whole. (Nesting too deep to parse is a
    ``RecursionError`` of the parser, after at most a thousand levels: :func:`read_json` names it.)

    Raises:
        FileFormatError: not UTF-8, or too many values.
    """

    from poselift.core.errors import FileFormatError

    path = Path(path)
    max_memory = MAX_JSON_MEMORY if max_memory is None else max_memory
    objects = lists = commas = size = 0
    with open(path, "rb") as fh:  # counted 16 MiB at a time: a refused file is never held whole
        while block := fh.read(16 * 2**20):
            objects, lists, commas = objects + block.count(b"{"), lists + block.count(b"["), commas + block.count(b",")
            size += len(block)
    need = 232 * objects + 72 * lists + 32 * (commas + 1)
    if need > max_memory:
        raise FileFormatError(f"{path}: refused: its {objects:,} objects and {lists:,} lists would take about "
                              f"{format_bytes(need)} once parsed ({format_bytes(size)} of JSON), more than the "
                              f"{format_bytes(max_memory)} poselift allows one file; split it", path)
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(f"{path}: corrupt JSON: not UTF-8 text (byte {e.start})", path) from None


def read_json(path: str | os.PathLike, max_memory: int | None = None) -> Any:
    """Parse a JSON file, bounded (:func:`json_text`: value count and nesting checked before parsing).

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: not UTF-8 text, or not valid JSON (``<path>: corrupt JSON at line L column C (...)``),
            including truncated files, too many values and nesting too deep.
    """
    from poselift.core.errors import FileFormatError, reading

    path = Path(path)
    with reading(path, "JSON"):
        text = json_text(path, max_memory)
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise FileFormatError(f"{path}: corrupt JSON at line {e.lineno} column {e.colno} ({e.msg})", path) from None
        except RecursionError:
            raise FileFormatError(f"{path}: refused: JSON nested too deeply to parse", path) from None


MAX_YAML_BYTES = 64 * 2**10
"""Largest YAML file or text poselift parses (configs, ``--set`` values, run folders' ``config.yaml``, cameras
files, detector settings): real ones are a few kilobytes."""
MAX_YAML_NODES = 5_000
"""Most YAML nodes (scalars, lists, mappings) one document may hold."""
MAX_YAML_DEPTH = 64
"""Deepest nesting of lists and mappings in a YAML document."""


def _yaml_problem(e: Exception) -> str:
    """One line: what PyYAML found wrong, and where."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
    return " ".join(f"{where}{problem}".split())


def read_yaml(path: str | os.PathLike | None = None, *, text: str | None = None, what: str | None = None,
              error: type[Exception] | None = None, max_bytes: int | None = None,
              max_nodes: int | None = None) -> Any:
    """Parse one YAML document as plain data, bounded: the one way poselift reads YAML.

    Safe YAML only (strings, numbers, booleans, null, lists, mappings: no Python objects). Aliases
    (``*name``) are refused, so a few hundred bytes cannot expand into billions of nodes (an "alias
    bomb"); the text may hold at most ``max_bytes`` (:data:`MAX_YAML_BYTES`, checked on the file's size
    before it is read) and ``max_nodes`` nodes (:data:`MAX_YAML_NODES`), and nesting too deep to parse is
    refused. Every refusal is one line and comes in well under a second.

    Args:
        path: the file (or give ``text``).
        text: YAML text instead of a file.
        what: how the message names the source (default: the path, or ``"YAML text"``).
        error: the exception type raised (default :class:`~poselift.core.errors.FileFormatError`);
            it is called with the message.
        max_bytes, max_nodes: the bounds (defaults :data:`MAX_YAML_BYTES`, :data:`MAX_YAML_NODES`).

    Raises:
        FileNotFoundError: no such file.
        ``error``: not UTF-8, not valid YAML, an alias, too large, too many nodes or too deeply nested.
    """
    import yaml

    from poselift.core.errors import FileFormatError

    error = error or FileFormatError
    max_bytes = MAX_YAML_BYTES if max_bytes is None else max_bytes
    max_nodes = MAX_YAML_NODES if max_nodes is None else max_nodes
    what = what or (str(path) if path is not None else "YAML text")
    if text is None:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no such file: {path}")
        if path.is_dir():
            raise error(f"{what}: is a folder, not a YAML file")
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{what}: refused: {format_bytes(size)} of YAML, more than the {format_bytes(max_bytes)} "
                        "poselift reads (a config is a few kB)")
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)  # a file that grows meanwhile is still bounded
        if len(raw) > max_bytes:
            raise error(f"{what}: refused: more than {format_bytes(max_bytes)} of YAML")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise error(f"{what}: not a YAML text file (not UTF-8 at byte {e.start})") from None
    elif len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise error(f"{what}: refused: more than {format_bytes(max_bytes)} of YAML")

    class BoundedLoader(yaml.SafeLoader):
        nodes = depth = 0

        def compose_node(self, parent, index):  # every node of the document passes here
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise error(f"{what}: refused: YAML alias at line {mark.line + 1} column {mark.column + 1}; "
                            "poselift reads plain YAML without anchors and aliases (*name), which can expand a "
                            "small file into billions of values")
            self.nodes += 1
            self.depth += 1
            if self.nodes > max_nodes:
                raise error(f"{what}: refused: more than {max_nodes:,} YAML values (a config has a few hundred)")
            if self.depth > MAX_YAML_DEPTH:
                raise error(f"{what}: refused: YAML nested more than {MAX_YAML_DEPTH} levels deep")
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    try:
        return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise error(f"{what}: not valid YAML ({_yaml_problem(e)})") from None
    except RecursionError:
        raise error(f"{what}: not valid YAML (nested too deeply)") from None


def open_h5(path: str | os.PathLike, what: str = "HDF5"):
    """Open an HDF5 file read-only, checked by :func:`check_h5` before anything of it is read: the one way
    poselift opens the HDF5 files it is given (2D keypoints, lifted poses, Human3.6M caches and archives).

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: not a readable HDF5 file, or refused by :func:`check_h5`.
    """
    import h5py

    from poselift.core.errors import FileFormatError

    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise FileFormatError(f"{path}: is a folder, not an {what} file", path)
        raise FileNotFoundError(f"no such file: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise FileFormatError(f"{path}: not a readable {what} file (corrupt, truncated or another format): "
                              f"{' '.join(str(e).split())[:200]}", path) from None
    try:
        check_h5(f, path)
    except BaseException:
        f.close()
        raise
    return f


def check_h5(f: Any, path: str | os.PathLike) -> None:
    """Refuse an open HDF5 file that points outside itself or declares more than it stores, reading nothing.

    Walks every group and dataset (metadata only) and refuses, naming the object:

    * external links (a dataset in another file), and soft links (poselift's files hold none);
    * datasets with external raw storage (their bytes live in another file: ``/dev/zero``, ``/etc/passwd``);
    * virtual datasets (their data maps to other files);
    * a whole file whose datasets together declare more than :data:`MAX_EXPANSION` times the file's size on
      disk (beyond :data:`FREE_BYTES`): chunks never written read as zeros, so ten datasets each just under a
      per-dataset limit could still expand a small file to gigabytes.

    Raises:
        FileFormatError: naming the object and what it points at or declares.
    """
    import h5py

    from poselift.core.errors import FileFormatError

    path = Path(path)
    size = path.stat().st_size
    budget = max(FREE_BYTES, MAX_EXPANSION * size)
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [("/", f)]
    while stack:
        gname, group = stack.pop()
        for name in group:
            full = f"{gname.rstrip('/')}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise FileFormatError(f"{path}: refused: {full} is an external link to {link.filename}:{link.path}; "
                                      "poselift reads data from the file itself only", path)
            if isinstance(link, h5py.SoftLink):
                raise FileFormatError(f"{path}: refused: {full} is a soft link to {link.path}; poselift's files "
                                      "hold no links", path)
            obj = group[name]
            key = (obj.id.fileno, h5py.h5o.get_info(obj.id).addr)
            if isinstance(obj, h5py.Group):
                if key not in seen:
                    seen.add(key)
                    stack.append((full, obj))
                continue
            if not isinstance(obj, h5py.Dataset):
                continue
            plist = obj.id.get_create_plist()
            if plist.get_external_count() > 0:
                target = plist.get_external(0)[0]
                target = target.decode(errors="replace") if isinstance(target, bytes) else str(target)
                raise FileFormatError(f"{path}: refused: dataset {full} keeps its data outside the file ({target}); "
                                      "poselift reads data from the file itself only", path)
            if plist.get_layout() == h5py.h5d.VIRTUAL:
                raise FileFormatError(f"{path}: refused: dataset {full} is a virtual dataset (its data maps to other "
                                      "files); poselift reads data from the file itself only", path)
            total += int(obj.size or 0) * obj.dtype.itemsize
            if total > budget:
                raise FileFormatError(
                    f"{path}: refused: its datasets declare {format_bytes(total)} or more in a file of "
                    f"{format_bytes(size)} (more than {MAX_EXPANSION} times: data never written, or crafted)", path)


def check_onnx_external_data(model: str | os.PathLike | bytes, name: str | None = None) -> None:
    """Refuse an ONNX model whose weights are stored outside its own folder, before any runtime opens it.

    ONNX keeps large weights in separate files named by the model (``external_data``: a location, an offset
    and a length). A crafted model can name ``/etc/passwd``, ``/dev/zero`` or ``../../secret``; every
    location must be a relative path inside the model's folder (after following symbolic links), and a model
    given as bytes (no folder) may have none. The model is parsed without loading any external data.
    Recent ONNX Runtime versions check this too; this check does not depend on their version.

    Raises:
        FileFormatError: naming the tensor and where its data would come from.
    """
    from poselift.core.errors import FileFormatError

    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is a dependency; ONNX Runtime's own check remains
        return
    in_memory = isinstance(model, (bytes, bytearray))
    name = name or ("<in-memory ONNX model>" if in_memory else str(model))
    try:
        proto = (onnx.load_from_string(bytes(model)) if in_memory
                 else onnx.load(str(model), load_external_data=False))
    except Exception:  # noqa: BLE001 - not parseable here: the runtime says why when it opens it
        return
    folder = None if in_memory else Path(model).resolve().parent

    def tensors():
        graphs = [proto.graph]
        while graphs:
            g = graphs.pop()
            yield from g.initializer
            for node in g.node:
                for a in node.attribute:
                    if a.HasField("t"):
                        yield a.t
                    yield from a.tensors
                    if a.HasField("g"):
                        graphs.append(a.g)
                    graphs.extend(a.graphs)

    for t in tensors():
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in t.external_data if e.key == "location"), "")
        target = None if folder is None or os.path.isabs(location) else (folder / location).resolve()
        if target is None or (target != folder and folder not in target.parents):
            raise FileFormatError(
                f"{name}: refused: tensor {t.name!r} takes its data from {location!r}, outside the model's folder; "
                "an ONNX model's external data must lie beside it", None if in_memory else model)


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb+") as fh:
                os.fsync(fh.fileno())


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty temporary folder beside ``path``; on success it replaces ``path`` whole.

    Readers see the old folder or the new one, never a mix: on Linux the two are
    exchanged in one atomic step (``renameat2``); elsewhere the old folder is
    renamed aside first, so a kill between the two renames leaves no folder at
    ``path`` (and both complete versions under hidden ``.tmp`` names), never a
    mixed one. On an exception the temporary folder is removed and ``path`` is
    untouched.

    Raises:
        InputError: ``path`` exists and is not a folder.
    """
    path = Path(path)
    check_output_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        _fsync_tree(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; give the folder the usual permissions
        if path.exists() and _exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
            return
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", suffix=".tmp", dir=path.parent))
            os.replace(path, old)  # an empty folder is replaced by a rename
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_output_file(path: str | os.PathLike, what: str = "--out") -> Path:
    """``path`` as a place to write a file: refused when it is an existing folder.

    Call it before the work that produces the file, so a mistyped ``--out`` is
    an error at once and not after an hour of lifting.

    Raises:
        InputError: ``path`` is a folder.
    """
    from poselift.core.errors import InputError

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path}: is a folder; give a file name to write")
    return path


def check_output_folder(path: str | os.PathLike, what: str = "--out") -> Path:
    """``path`` as a folder to write into: refused when it is an existing file (see :func:`check_output_file`).

    Raises:
        InputError: ``path`` exists and is not a folder.
    """
    from poselift.core.errors import InputError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path}: is a file, not a folder; give a folder to write into")
    return path


def format_bytes(n: int | float) -> str:
    """``1.2 GB`` style text (powers of 1000)."""
    n = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"  # pragma: no cover


def _npy_header(fh, where: str, path: Path):
    """``(shape, fortran_order, dtype, header bytes)`` of the ``.npy`` stream ``fh``."""
    import numpy as np

    from poselift.core.errors import FileFormatError

    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = fmt.read_array_header_2_0(fh)
    except Exception as e:  # noqa: BLE001 - ValueError, EOFError, SyntaxError from numpy's header parser
        text = " ".join(str(e).split())[:200]
        raise FileFormatError(f"{where}: corrupt, truncated or not an .npy member ({type(e).__name__}: {text})",
                              path) from None
    return shape, fortran, dtype, fh.tell()


def _pickle_refused(path: Path, key: str) -> Exception:
    from poselift.core.errors import FileFormatError

    return FileFormatError(
        f"{path}: {key!r} stores Python objects (pickle), as VideoPose3D's files do; unpickling can run code "
        "from the file, so it is refused by default. Pass allow_pickle=True (--allow-pickle) only if you trust "
        "this file", path)


def load_npz(path: str | os.PathLike, keys: Sequence[str] | None = None, *, optional: Sequence[str] = (),
             allow_pickle: bool = False) -> dict[str, Any]:
    """Members of a numpy ``.npz`` archive, each checked against what the archive holds before it is read.

    Before a member is read, its ``.npy`` header is parsed and the bytes its shape
    and dtype declare are compared with the member's size in the archive (a
    member declaring more than it holds is refused), and the total the archive
    would expand to is compared with its size on disk (at most
    :data:`MAX_EXPANSION` times, beyond 64 MiB: a zip bomb is refused after
    reading kilobytes). Members holding Python objects (pickles) are refused
    before anything is unpickled unless ``allow_pickle`` (then with an
    :class:`~poselift.core.errors.UnsafePickleWarning`). Object members are
    returned as they are (``arr.item()`` is the object: VideoPose3D stores dicts that way).

    Args:
        path: the ``.npz`` file.
        keys: members to read, all required (default: every member).
        optional: further members read when present.
        allow_pickle: allow unpickling (only for files you trust: a pickle can run code).

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: not an npz archive (or a single ``.npy``), corrupt or
            truncated, a required member missing, a declared size the archive
            does not hold, or a pickle without ``allow_pickle``.
    """
    from poselift.core.errors import UnsafePickleWarning

    path = Path(path)
    _check_npz_path(path)
    if allow_pickle:
        warnings.warn(f"{path}: allow_pickle=True: unpickling Python objects can run arbitrary code; "
                      "only load files you trust", UnsafePickleWarning, stacklevel=2)
    with _open_npz(path) as zf:
        members = _npz_members(zf, path)
        wanted = _wanted_members(members, keys, optional, path)
        _check_expansion(members, wanted, path)
        return {key: _read_member(zf, members[key], path, key, allow_pickle) for key in wanted}


def _check_npz_path(path: Path) -> None:
    """Refuse a folder, or a path that is not a file, before anything is opened."""
    from poselift.core.errors import FileFormatError

    if path.is_dir():
        raise FileFormatError(f"{path}: is a folder, not an .npz file", path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")


def _open_npz(path: Path):
    """The archive as a :class:`zipfile.ZipFile`; a clear error for a lone ``.npy`` or a file that is no zip."""
    import zipfile

    from poselift.core.errors import FileFormatError

    try:
        return zipfile.ZipFile(path)
    except Exception as e:  # noqa: BLE001 - BadZipFile, OSError, EOFError, ...
        with open(path, "rb") as fh:
            if fh.read(6) == b"\x93NUMPY":
                raise FileFormatError(f"{path}: a single .npy array, not an .npz archive", path) from None
        raise FileFormatError(f"{path}: corrupt, truncated or not an .npz file ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:200]})", path) from None


def _npz_members(zf, path: Path) -> dict[str, Any]:
    """``{key: ZipInfo}``, keys without their ``.npy``; an archive naming one key twice is refused."""
    from poselift.core.errors import FileFormatError

    names = [i.filename[:-4] if i.filename.endswith(".npy") else i.filename for i in zf.infolist()]
    twice = sorted({n for n in names if names.count(n) > 1}) if len(set(names)) < len(names) else []
    if twice:  # which copy a reader sees differs between readers: refuse rather than pick one
        raise FileFormatError(f"{path}: refused: the archive holds several members named {twice[0]!r} (a "
                              "crafted or damaged npz; which one is read would depend on the reader)", path)
    return {(i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i for i in zf.infolist()}


def _wanted_members(members: dict[str, Any], keys: Sequence[str] | None, optional: Sequence[str],
                    path: Path) -> list[str]:
    """The keys to read, in order: ``keys`` (all required; every member when ``None``), then the ``optional``
    ones present."""
    from poselift.core.errors import FileFormatError

    wanted = list(members) if keys is None else list(keys)
    for key in wanted:
        if key not in members:
            raise FileFormatError(f"{path}: no entry {key!r} (found {sorted(members)})", path)
    return wanted + [k for k in optional if k in members and k not in wanted]


def _check_expansion(members: dict[str, Any], wanted: list[str], path: Path) -> None:
    """Refuse members declaring (uncompressed) more than :data:`MAX_EXPANSION` times the file's size, beyond
    :data:`FREE_BYTES`: a zip bomb is refused before anything is decompressed."""
    from poselift.core.errors import FileFormatError

    declared = sum(members[k].file_size for k in wanted)
    budget = max(FREE_BYTES, MAX_EXPANSION * path.stat().st_size)
    if declared > budget:
        raise FileFormatError(
            f"{path}: refused: its members declare {format_bytes(declared)} of data in a file of "
            f"{format_bytes(path.stat().st_size)} (more than {MAX_EXPANSION} times; a zip bomb or a "
            "corrupt archive)", path)


def _read_member(zf, info, path: Path, key: str, allow_pickle: bool):
    """One member as an array, its header checked first (a pickle without ``allow_pickle``, a shape declaring
    more bytes than the member holds); any other failure becomes a :class:`FileFormatError` naming it."""
    import numpy as np

    from poselift.core.errors import FileFormatError

    where = f"{path}: {key!r}"
    try:
        with zf.open(info) as fh:
            _check_member_header(fh, info, where, path, key, allow_pickle)
        with zf.open(info) as fh:
            return np.lib.format.read_array(fh, allow_pickle=allow_pickle)
    except FileFormatError:
        raise
    except Exception as e:  # noqa: BLE001 - truncated member, bad CRC, bad pickle, ...
        raise FileFormatError(f"{where}: cannot read it, corrupt or truncated ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:200]})", path) from None


def _check_member_header(fh, info, where: str, path: Path, key: str, allow_pickle: bool) -> None:
    """Parse the ``.npy`` header of the open member ``fh``: refuse a pickle unless allowed, and a numeric array
    whose declared shape and dtype need more bytes than the member holds."""
    import numpy as np

    from poselift.core.errors import FileFormatError

    shape, fortran, dtype, header = _npy_header(fh, where, path)
    if dtype.hasobject:
        if not allow_pickle:
            raise _pickle_refused(path, key)
        return
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    have = info.file_size - header
    if need > have:
        raise FileFormatError(
            f"{where} declares a {tuple(shape)} {dtype} array ({format_bytes(need)}) but holds "
            f"{format_bytes(max(have, 0))}: corrupt or truncated", path)
