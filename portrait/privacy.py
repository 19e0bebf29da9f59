"""Keep every byte of a visitor's photo in memory (tmpfs), never on persistent disk.

Call :func:`private_cache` before importing Gradio or torch: it points Gradio's upload/output
cache, TorchInductor's cache and Matplotlib's config at a per-process folder on ``/dev/shm``
(RAM), removes folders left behind by processes that died, and removes its own folder at exit
and on SIGTERM/SIGINT (Gradio's own ``delete_cache`` does not run on SIGTERM).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

RAM_DISK = Path("/dev/shm")
PREFIX = "portrait-studio-"


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
    """Create this process's in-memory cache folder and route every cache there."""
    root = RAM_DISK if RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK) else Path(tempfile.gettempdir())
    if root != RAM_DISK:
        print(f"warning: {RAM_DISK} is not available; uploads are cached in {root} and removed promptly",
              file=sys.stderr)
    clear_stale(root)
    folder = root / f"{PREFIX}{os.getpid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "gradio")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder / "inductor")
    os.environ["MPLCONFIGDIR"] = str(folder / "matplotlib")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_SERVER_NAME", "127.0.0.1")

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
