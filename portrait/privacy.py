"""Keep every byte of a visitor's photo in memory (tmpfs), never on persistent disk.

Call :func:`private_cache` before importing Gradio or torch: it points Gradio's upload/output
cache, TorchInductor's cache and Matplotlib's config at a per-process folder on a RAM disk,
removes folders left behind by processes that died, and removes its own folder at exit
and on SIGTERM/SIGINT (Gradio's own ``delete_cache`` does not run on SIGTERM).

The RAM disk is ``/dev/shm``, or the user's runtime directory (``$XDG_RUNTIME_DIR``,
``/run/user/<uid>``) where that has more room: a place counts only when ``/proc/mounts`` says the
file system holding it is tmpfs, because a container can have a plain directory on its disk at
``/dev/shm``. With none, the app refuses to start: there is no fallback to persistent disk.
Containers often give ``/dev/shm`` only 64 MB (Docker's default); :func:`upload_budget` then
lowers what the app accepts so that a full queue of uploads still fits in RAM.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "portrait-studio-"
MB = 2**20
#: Room kept for the cache's other tenants: Gradio's bookkeeping and Matplotlib's config (a few
#: kB in practice), with margin for another process sharing the RAM disk after start-up.
RESERVE_BYTES = 8 * MB
#: The upload limit is never lowered below this: it admits a full-HD webcam capture and a typical
#: phone photo. Below it a shorter queue is the better trade (visitors beyond it retry later).
FLOOR_BYTES = 8 * MB
#: A file that no upload is writing and that has not changed for this long is stranded (below).
STRANDED_SECONDS = 2.0
#: How often the upload folder is looked through for stranded files.
SWEEP_SECONDS = 1.0

log = logging.getLogger(__name__)


def ram_disks() -> list[Path]:
    """Where a memory-backed cache may live: ``/dev/shm``, then the user's runtime directory."""
    places = [Path("/dev/shm")]
    if os.environ.get("XDG_RUNTIME_DIR"):
        places.append(Path(os.environ["XDG_RUNTIME_DIR"]))
    places.append(Path(f"/run/user/{os.getuid()}"))
    return list(dict.fromkeys(places))


def _unescape(field: str) -> str:
    r"""/proc/mounts writes a space in a mount point as ``\040`` (tab, newline, backslash alike)."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), field)


def filesystem_type(path: Path, mounts: str | None = None) -> str | None:
    """The type of the file system holding ``path``: that of the deepest mount point above it.

    ``mounts`` is the text of /proc/mounts (read when None). Of mounts stacked on one point the
    last listed is the one visible, so later lines win ties.
    """
    if mounts is None:
        mounts = Path("/proc/mounts").read_text()
    path = path.resolve()
    deepest, kind = -1, None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = Path(_unescape(fields[1]))
        if (point == path or point in path.parents) and len(point.parts) >= deepest:
            deepest, kind = len(point.parts), fields[2]
    return kind


def free_bytes(path: Path) -> int:
    """Bytes this process may still write under ``path`` (for tmpfs: what its size limit leaves)."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def ram_disk(places: list[Path] | None = None) -> Path:
    """The roomiest writable tmpfs among ``places`` (the first of equals); SystemExit when none is.

    Refusing is the point: a cache silently moved to persistent disk would break the promise the
    page makes to every visitor.
    """
    places = ram_disks() if places is None else places
    usable = [place for place in places
              if place.is_dir() and os.access(place, os.W_OK) and filesystem_type(place) == "tmpfs"]
    if not usable:
        raise SystemExit(
            f"portrait studio: refusing to start: no writable RAM disk (tmpfs) to hold uploads; looked at "
            f"{', '.join(map(str, places))}. Photos are never cached on persistent disk. Give the "
            "container one, e.g. docker run --shm-size=1g, or --tmpfs /dev/shm.")
    return max(usable, key=free_bytes)


@dataclass(frozen=True)
class UploadBudget:
    """What the app may accept: uploads up to ``largest`` bytes, and ``waiting`` queued visitors."""

    largest: int
    waiting: int


def upload_budget(folder: Path, largest: int, waiting: int, painting: int) -> UploadBudget:
    """Lower what the app accepts until a full queue of the largest uploads fits in ``folder``'s RAM disk.

    An upload stays in the cache from its arrival until its turn comes to be read (then it is
    deleted at once), so at most ``waiting + painting`` of them sit there together: 21 × 40 MB
    = 840 MB with the app's queue and upload cap. When the RAM disk's free space at start-up,
    less :data:`RESERVE_BYTES`, holds less, the upload limit is lowered first, down to
    :data:`FLOOR_BYTES`; below that the queue is shortened instead (Gradio tells visitors beyond
    it that the app is busy). With no room for the ones painting and one waiting, SystemExit.

    This bounds what the page's visitors can put there. A client posting to Gradio's upload route
    without ever joining the queue is bounded by the RAM disk itself (``delete_cache`` sweeps its
    files): writes then fail, and nothing spills to persistent disk.
    """
    free = free_bytes(folder)
    room = free - RESERVE_BYTES
    floor = min(FLOOR_BYTES, largest)
    held = waiting + painting
    if room >= held * largest:
        return UploadBudget(largest, waiting)
    if room // held >= floor:
        budget = UploadBudget(max(floor, room // held // MB * MB), waiting)
    elif room // floor - painting >= 1:
        budget = UploadBudget(floor, room // floor - painting)
    else:
        raise SystemExit(
            f"portrait studio: refusing to start: the RAM disk holding {folder} has {free / MB:.0f} MB "
            f"free; it needs {(RESERVE_BYTES + (painting + 1) * floor) / MB:.0f} MB for even one waiting "
            f"upload of {floor / MB:.0f} MB. Give it more room, e.g. docker run --shm-size=1g.")
    log.warning("RAM disk holding %s has %.0f MB free: uploads limited to %.0f MB and %d visitors waiting "
                "(full service, %.0f MB and %d, needs %.0f MB; e.g. docker run --shm-size=1g)",
                folder, free / MB, budget.largest / MB, budget.waiting, largest / MB, waiting,
                (RESERVE_BYTES + held * largest) / MB)
    return budget


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale(root: Path) -> None:
    """Remove cache folders of portrait-studio processes that no longer run (crash, kill -9)."""
    for folder in root.glob(f"{PREFIX}*"):
        pid = folder.name.removeprefix(PREFIX)
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def private_cache() -> Path:
    """Create this process's cache folder on a RAM disk (see :func:`ram_disk`), route every cache there."""
    root = ram_disk()
    clear_stale(root)
    folder = root / f"{PREFIX}{os.getpid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "gradio")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder / "inductor")
    os.environ["MPLCONFIGDIR"] = str(folder / "matplotlib")
    # Every other temporary file too: importing mediapipe looks for a sound library with
    # ctypes.util.find_library, which runs gcc, which writes its scratch files to $TMPDIR.
    (folder / "tmp").mkdir(mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = str(folder / "tmp")
    tempfile.tempdir = None  # tempfile caches the folder it chose: choose again
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    def remove() -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def on_signal(signum: int, frame: object) -> None:
        remove()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    atexit.register(remove)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    return folder


def forget(path: str | os.PathLike | None) -> None:
    """Delete an uploaded file, and its per-upload folder when that is left empty."""
    if not path:
        return
    path = Path(path)
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass


def _open_files() -> set[Path]:
    """The files this process holds open (from /proc/self/fd: the app runs only where /proc is)."""
    held = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            held.add(Path(os.readlink(fd)))
        except OSError:  # closed since it was listed
            pass
    return held


def stranded(uploads: Path) -> list[Path]:
    """Files directly in Gradio's upload folder that no upload will ever move to its own folder.

    Gradio writes an upload to a temporary file there, open until the whole request has arrived,
    then closes it and moves it at once to ``<hash>/<name>``, which the app reads and deletes
    (:func:`forget`). A file is left behind when the visitor goes away mid-upload (Gradio keeps
    the part it received), or when two visitors send the same bytes at once and the second's move
    finds the shared folder already removed by the first's :func:`forget`; Gradio's own
    ``delete_cache`` never sees such a file. So: a regular file there that this process no longer
    holds open and that has not changed for :data:`STRANDED_SECONDS` (a finished upload is moved
    microseconds after its last write) is stranded.
    """
    try:
        candidates = [path for path in uploads.iterdir() if path.is_file() and not path.is_symlink()]
    except FileNotFoundError:  # no upload yet
        return []
    held = _open_files() if candidates else set()
    now, found = time.time(), []
    for path in candidates:
        try:
            still = now - path.stat().st_mtime >= STRANDED_SECONDS
        except FileNotFoundError:  # moved meanwhile
            continue
        if still and path not in held:
            found.append(path)
    return found


def sweep_stranded(uploads: Path) -> None:
    """Delete :func:`stranded` uploads every :data:`SWEEP_SECONDS`, in a daemon thread, for good."""
    def sweep() -> None:
        while True:
            try:
                for path in stranded(uploads):
                    path.unlink(missing_ok=True)
                    log.info("removed an upload that never arrived whole")
            except OSError as error:  # e.g. the cache removed at shutdown: try again next time
                log.debug("sweeping %s: %s", uploads, error)
            time.sleep(SWEEP_SECONDS)

    threading.Thread(target=sweep, name="stranded-uploads", daemon=True).start()
