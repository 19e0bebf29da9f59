"""Shared fixtures: real faces from installed packages, and a real app server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Before anything imports torch: on a shared 2-core machine, spinning OpenMP threads that lose
# their core stall every parallel region (5-10x slower); the app sets the same default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    """A real face photo that ships inside scikit-image (512×512, one face)."""
    from skimage import data

    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="session")
def painter():
    """The real pipeline with the real trained weights, built once."""
    from portrait.pipeline import Painter

    return Painter(threads=2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    @property
    def cache(self) -> Path:
        """The server's in-RAM cache folder (named after its pid)."""
        return Path("/dev/shm") / f"portrait-studio-{self.process.pid}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_server(log: Path, *args: str, env: dict | None = None, timeout: float = 120) -> Server:
    """Start ``python app.py`` on a free loopback port and wait until it answers."""
    port = free_port()
    handle = open(log, "w")
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), *args],
                               cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                               env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited early:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                if "Running on" in log.read_text():
                    return Server(url, process, log)
        except OSError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"app.py did not start in {timeout}s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    """One real app server shared by the API tests."""
    srv = start_server(tmp_path_factory.mktemp("server") / "app.log")
    yield srv
    srv.stop()


def jpeg_bytes(image: Image.Image | np.ndarray, quality: int = 92) -> bytes:
    import io

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def group_photo(astronaut: Image.Image) -> Image.Image:
    """Three faces of different sizes, one mirrored and one tilted, side by side on a wall."""
    group = Image.new("RGB", (1200, 520), (90, 100, 110))
    group.paste(astronaut.resize((400, 400)), (0, 100))
    group.paste(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((460, 460)), (380, 30))
    group.paste(astronaut.resize((360, 360)).rotate(8), (830, 150))
    return group
