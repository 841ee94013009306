"""A run as one file: ``export_run(RUN, out.zip)`` and ``load_run(out.zip)``, to send a trained model.

The archive holds the run's config, weights (safetensors), metrics, a sample grid and, if present,
its class guide and figures; optionally the trainer state (to resume). Nothing executable, no
pickles: every member is a file the studio already reads with its guarded readers.

Opening one is as safe as opening a run directory: the archive is read, never extracted as it is.
Only the known flat member names are accepted (so no path traversal, no absolute paths, no
folders), no symbolic links, no duplicates, no encryption, at most ``MAX_MEMBERS`` members, each
under its own size limit (counted while decompressing, so a header that lies about the size does
not help a zip bomb), and each member's SHA-256 must match the manifest written at export. The
members are written into a private temporary folder, and :func:`load_run` then loads that folder
exactly as a run directory (``checkpoint.load_run``), with all of its checks.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from .atomic import atomic_write_with
from .checkpoint import CONFIG_FILE, METRICS_FILE, MODEL_FILE, TRAINER_FILE, LoadedRun
from .checkpoint import load_run as load_run_dir
from .errors import CheckpointError
from .files import regular_file

MANIFEST = "ebm-studio-run.json"
FORMAT = "ebm-studio-run/1"
GUIDE_FILE = "guide.safetensors"  # as core.guidance.GUIDE_FILE (not imported: the guide needs no loading here)
SAMPLES_FILE = "samples.png"
FIGURES_FILE = "figures.json"
_MiB = 1 << 20
#: Every name an archive may hold, and the most bytes each may decompress to.
MEMBER_LIMITS = {
    MANIFEST: 64 * 1024,
    CONFIG_FILE: _MiB,
    MODEL_FILE: 2 << 30,
    TRAINER_FILE: 2 << 30,
    GUIDE_FILE: 256 * _MiB,
    METRICS_FILE: 512 * _MiB,
    SAMPLES_FILE: 32 * _MiB,
    FIGURES_FILE: _MiB,
}
REQUIRED = (MANIFEST, CONFIG_FILE, MODEL_FILE)
MAX_MEMBERS = len(MEMBER_LIMITS)
MAX_ARCHIVE_BYTES = 5 << 30
_CHUNK = _MiB


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, samples_png: bytes | None = None,
               with_trainer_state: bool = False) -> list[str]:
    """Write the run in ``run_dir`` as the zip ``out`` (atomically); returns the member names.
    ``samples_png``: a sample grid to ship when the run has no samples.png of its own."""
    run_dir, out = Path(run_dir), Path(out)
    load_run_dir(run_dir)  # only a run that loads is worth sending: its own checks, its own messages
    names = [CONFIG_FILE, MODEL_FILE, METRICS_FILE, GUIDE_FILE, SAMPLES_FILE, FIGURES_FILE]
    if with_trainer_state:
        names.append(TRAINER_FILE)
    files = {}
    for name in names:
        path = run_dir / name
        if os.path.lexists(path):
            if path.is_symlink():
                raise CheckpointError(f"{path}: is a symbolic link; a run archive takes plain files only")
            regular_file(path, CheckpointError, "a run file", MEMBER_LIMITS[name])
            files[name] = path
    extra = {} if SAMPLES_FILE in files or samples_png is None else {SAMPLES_FILE: samples_png}
    digests = {name: _sha256_file(path) for name, path in files.items()}
    digests.update({name: hashlib.sha256(data).hexdigest() for name, data in extra.items()})
    manifest = json.dumps({"format": FORMAT, "members": digests}, indent=2).encode()

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(MANIFEST, manifest)
            for name, path in files.items():
                z.write(path, name)
            for name, data in extra.items():
                z.writestr(name, data)

    atomic_write_with(out, write)
    return [MANIFEST, *files, *extra]


def is_archive(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(".zip")


def extract_run(path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Check the archive ``path`` and write its members into the folder ``dest``; returns it."""
    path, dest = Path(path), Path(dest)
    regular_file(path, CheckpointError, "a run archive", MAX_ARCHIVE_BYTES)
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a readable zip archive ({exc.__class__.__name__})") from None
    with z:
        infos = z.infolist()
        if len(infos) > MAX_MEMBERS:
            raise CheckpointError(f"{path}: {len(infos)} members; a run archive has at most {MAX_MEMBERS}")
        names = [i.filename for i in infos]
        unknown = sorted(n for n in names if n not in MEMBER_LIMITS)
        if unknown:
            raise CheckpointError(f"{path}: unexpected member {unknown[0]!r} (a run archive holds only "
                                  f"{', '.join(MEMBER_LIMITS)}, at its top level)")
        if len(set(names)) != len(names):
            raise CheckpointError(f"{path}: a member name appears twice")
        missing = [n for n in REQUIRED if n not in names]
        if missing:
            raise CheckpointError(f"{path}: not a run archive (no {missing[0]})")
        for info in infos:
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode) or info.is_dir():
                raise CheckpointError(f"{path}: {info.filename} is a link or folder; only plain files are accepted")
            if info.flag_bits & 0x1:
                raise CheckpointError(f"{path}: {info.filename} is encrypted")
        data = {i.filename: _read_member(z, i, path) for i in infos}
    digests = _manifest(data.pop(MANIFEST), path)
    if set(digests) != set(data):
        raise CheckpointError(f"{path}: the manifest does not list the archive's members")
    for name, blob in data.items():
        if hashlib.sha256(blob).hexdigest() != digests[name]:
            raise CheckpointError(f"{path}: {name} does not match its checksum (damaged or altered)")
    dest.mkdir(parents=True, exist_ok=True)
    for name, blob in data.items():
        (dest / name).write_bytes(blob)
    return dest


def load_run(path: str | os.PathLike, device="cpu", with_trainer_state: bool = False) -> LoadedRun:
    """``checkpoint.load_run`` that also opens a run archive (.zip): its members are checked and
    unpacked into a private temporary folder (removed when the process ends), then loaded as a
    run directory (``LoadedRun.path`` is that folder)."""
    if not is_archive(path):
        return load_run_dir(path, device=device, with_trainer_state=with_trainer_state)
    folder = Path(tempfile.mkdtemp(prefix="ebm-studio-run-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    try:
        extract_run(path, folder)
        run = load_run_dir(folder, device=device, with_trainer_state=with_trainer_state)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return run


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    limit = MEMBER_LIMITS[info.filename]
    if info.file_size > limit:
        raise CheckpointError(f"{path}: {info.filename} is {info.file_size} bytes; more than {limit} are refused")
    out, total = [], 0
    try:
        with z.open(info) as f:
            while chunk := f.read(_CHUNK):
                total += len(chunk)
                if total > limit:  # the header lied: stop before the bomb goes off
                    raise CheckpointError(f"{path}: {info.filename} unpacks to more than {limit} bytes")
                out.append(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: {info.filename} cannot be read ({exc.__class__.__name__}: {exc})") from None
    return b"".join(out)


def _manifest(blob: bytes, path: Path) -> dict[str, str]:
    try:
        raw = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path}: {MANIFEST} is not valid JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an EBM Studio run archive (format {FORMAT} expected)")
    members = raw.get("members")
    if not isinstance(members, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in members.items()):
        raise CheckpointError(f"{path}: {MANIFEST} has no valid member list")
    return members


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
