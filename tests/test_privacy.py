"""No visitor photo reaches persistent disk, lingers in RAM, or shows up in the server log.

The promise on the page ("processed in memory only and never saved") is checked from outside the
app: the real server runs under strace, photos go in through the real HTTP API, a real browser
(webcam capture, upload, the live mirror's stream) and a small crowd of concurrent API clients,
and the test then reads the syscall trace, the in-RAM cache folder and the log.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests._browser import chromium, open_studio, write_fake_webcam
from tests.conftest import ROOT, Server, free_port, group_photo, jpeg_bytes, start_server

#: Syscalls that can put a file on disk: create/open for writing, or give an existing file a name.
TRACED = "openat,open,creat,rename,renameat,renameat2,link,linkat"
API_CALLS = 3
#: Visitors at once in the traced load run, and seconds of live-mirror streaming.
CROWD = 6
LIVE_SECONDS = 4
#: Time for anything the app would delete late: it deletes uploads as soon as it reads them, and
#: sweeps those that never arrived whole within a few seconds.
SETTLE_SECONDS = 3
#: tmpfs: the app's private cache lives here by design, and test (b) checks that it empties.
RAM_DISK = "/dev/shm/"
#: The bit bucket (subprocess output redirects): a device that stores nothing.
DEVICES = {"/dev/null"}
#: Python's bytecode cache (``x.cpython-311.pyc`` written as ``x.cpython-311.pyc.<n>`` then renamed):
#: compiled source code, written whenever a module changed since the last run; never user data.
BYTECODE = re.compile(r"/__pycache__/[^/]+\.pyc(\.\d+)?$")
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8")


@dataclass
class TracedServer(Server):
    """A real app server started under strace: ``process`` is strace, ``pid`` the app itself."""

    pid: int
    trace: Path

    @property
    def cache(self) -> Path:
        return Path(RAM_DISK) / f"portrait-studio-{self.pid}"

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def stop(self) -> None:
        """SIGTERM the app itself, as a process manager would; strace exits with its last tracee."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                kill_group(self.process)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL strace and the app under it (started in their own session, so nothing else)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def start_traced_server(folder: Path, timeout: float = 180) -> TracedServer:
    """Start ``python app.py`` under ``strace -f`` on a free port and wait until it answers.

    ``-y`` prints the file behind every descriptor, so relative and ``*at`` paths come out absolute;
    ``--seccomp-bpf`` stops the tracee only on the traced calls, which keeps start-up bearable.
    """
    port, log, trace = free_port(), folder / "app.log", folder / "trace.txt"
    command = ["strace", "-f", "-y", "--seccomp-bpf", "-e", f"trace={TRACED}", "-o", str(trace),
               sys.executable, str(ROOT / "app.py"), "--port", str(port)]
    with open(log, "w") as handle:
        process = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        started = re.search(r"cache in RAM at /dev/shm/portrait-studio-(\d+)", log.read_text())
        if started and "Running on" in log.read_text() and _answers(port):
            return TracedServer(f"http://127.0.0.1:{port}/", process, log, int(started[1]), trace)
        time.sleep(0.5)
    kill_group(process)
    raise RuntimeError(f"app.py under strace did not start:\n{log.read_text()}")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def crash(server: Server, photo: bytes) -> Path:
    """kill -9 a server with a photo in its cache, as if it died mid-upload; return its cache folder."""
    leftover = server.cache / "gradio" / "in-flight" / "selfie.jpg"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(photo)
    server.process.kill()
    server.process.wait(10)  # reaped: a zombie's pid still looks alive to clear_stale
    return server.cache


def send_through_api(server: Server, photo: Path, not_a_photo: Path) -> None:
    """Paint through the public HTTP API a few times, and send it one file that is no image."""
    client = Client(server.url, verbose=False)
    for _ in range(API_CALLS):
        _, portrait, _, status = client.predict(handle_file(str(photo)), "oil", api_name="/paint")
        assert portrait["url"].startswith("data:image/") and status == "", status
    *_, status = client.predict(handle_file(str(not_a_photo)), "oil", api_name="/paint")
    assert "isn't an image" in status
    portrait, label = client.predict(handle_file(str(photo)), "watercolor", api_name="/paint_after_master")
    assert portrait["url"].startswith("data:image/") and ", after " in label, label


def send_through_browser(server: Server, photo: Path, group: Path, folder: Path) -> None:
    """Take a webcam picture, upload files and pick a face in a real browser, as visitors do."""
    with chromium(write_fake_webcam(folder / "astronaut.y4m")) as browser:
        with open_studio(browser, server.url, folder / "webcam.png") as studio:
            studio.capture_webcam()
            studio.wait_for_image("portrait")
        with open_studio(browser, server.url, folder / "upload.png") as studio:  # and after a master
            studio.upload(photo)
            studio.wait_for_image("portrait")
            studio.wait_for_label(timeout_ms=600_000)
            studio.page.locator("#another").click()
        with open_studio(browser, server.url, folder / "group.png") as studio:  # thumbnails, whole photo
            studio.upload(group)
            first = studio.wait_for_image("portrait")
            studio.page.locator("#faces img").nth(1).click()
            studio.wait_for_image("portrait", replacing=first.src)
        with open_studio(browser, server.url, folder / "live.png") as studio:  # the streamed flow
            page = studio.page
            page.get_by_role("tab", name="Live mirror").click()
            page.locator("#live-camera").get_by_text("Click to Access Webcam").click()
            page.wait_for_function("() => { const v = document.querySelector('#live-camera video');"
                                   " return !!v && v.readyState >= 2 && v.videoWidth > 0; }")
            page.locator("#live-camera button[aria-label='capture photo']").click()
            studio.wait_for_image("live-portrait")
            time.sleep(LIVE_SECONDS)


def abandon_an_upload(server: TracedServer, photo: bytes) -> None:
    """Send half of an upload and hang up, as a visitor closing the tab mid-upload does."""
    boundary = "portrait-studio-test"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="selfie.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body[: len(body) // 2])
        time.sleep(0.5)  # the server has written what it received to a file in its cache


def send_as_a_crowd(server: Server, photo: Path) -> None:
    """A small load run: several visitors at once, as in tests/test_load.py, under the trace."""
    def visit(_: int) -> str:
        return Client(server.url, verbose=False).predict(handle_file(str(photo)), "ink",
                                                         api_name="/paint")[3]

    with ThreadPoolExecutor(CROWD) as pool:
        assert list(pool.map(visit, range(2 * CROWD))) == [""] * 2 * CROWD


def images_in(folder: Path) -> list[Path]:
    """Files under ``folder`` whose first bytes say JPEG, PNG, GIF or WebP, whatever their names."""
    found = []
    for path in (p for p in folder.rglob("*") if p.is_file()):
        head = path.read_bytes()[:12]
        if head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
            found.append(path)
    return found


@dataclass
class Run:
    """Everything the privacy tests judge, gathered from one traced server's life."""

    server: TracedServer
    dead_cache: Path  #: cache folder of a server killed with -9 just before this one started
    images_while_running: list[Path]
    cache_left_after_sigterm: bool
    trace: str = field(repr=False)
    log: str = field(repr=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, astronaut: Image.Image) -> Iterator[Run]:
    """Crash a server, start a traced one, send it photos every way, then SIGTERM it."""
    folder = tmp_path_factory.mktemp("privacy")
    photo, not_a_photo = folder / "astronaut.jpg", folder / "x.jpg"
    photo.write_bytes(jpeg_bytes(astronaut))
    not_a_photo.write_text("This is a text file with an image's name.\n")
    with ExitStack() as cleanup:
        dead_cache = crash(start_server(folder / "crashed.log"), photo.read_bytes())
        # Never leave a test photo in RAM, pass or fail.
        cleanup.callback(shutil.rmtree, dead_cache, ignore_errors=True)
        server = start_traced_server(folder)
        cleanup.callback(shutil.rmtree, server.cache, ignore_errors=True)
        cleanup.callback(server.stop)
        send_through_api(server, photo, not_a_photo)
        group = folder / "group.jpg"
        group.write_bytes(jpeg_bytes(group_photo(astronaut)))
        send_through_browser(server, photo, group, folder)
        abandon_an_upload(server, photo.read_bytes())
        send_as_a_crowd(server, photo)
        time.sleep(SETTLE_SECONDS)
        images = images_in(server.cache)
        server.stop()
        yield Run(server, dead_cache, images, server.cache.exists(), server.trace.read_text(),
                  server.log.read_text())


# --- (a) the syscall trace ------------------------------------------------------------------------

CALL = re.compile(r"^\d+\s+(?P<name>\w+)\((?P<args>.*)\)\s+=\s+(?P<result>-?\d+)(?:<(?P<fd>[^>]*)>)?")
PATH_ARG = re.compile(r'(?:(?:AT_FDCWD|\d+)<(?P<dir>[^>]*)>,\s*)?"(?P<path>(?:[^"\\]|\\.)*)"')
WRITE_FLAGS = re.compile(r"\bO_(?:WRONLY|RDWR|CREAT)\b")


def complete_calls(trace: str) -> list[str]:
    """Trace lines with each call whole: ``strace -f`` splits calls that other threads interrupt."""
    pending: dict[str, str] = {}
    calls = []
    for line in trace.splitlines():
        pid = line.partition(" ")[0]
        if line.endswith("<unfinished ...>"):
            pending[pid] = line.removesuffix("<unfinished ...>").rstrip()
        elif "resumed>" in line:
            calls.append(pending.pop(pid, "") + line.split("resumed>", 1)[1])
        else:
            calls.append(line)
    return calls


def written_paths(trace: str) -> list[str]:
    """Absolute paths the server created, opened for writing, or renamed/linked a file to.

    Failed calls (result -1) are skipped: they store nothing.
    """
    paths = []
    for match in filter(None, map(CALL.match, complete_calls(trace))):
        if int(match["result"]) < 0:
            continue
        name, args = match["name"], match["args"]
        if name in ("open", "openat", "creat") and (name == "creat" or WRITE_FLAGS.search(args)):
            paths.append(match["fd"] or absolute(*PATH_ARG.findall(args)[0]))
        elif name.startswith(("rename", "link")):
            paths.append(absolute(*PATH_ARG.findall(args)[-1]))  # the new name
    return paths


def absolute(directory: str, path: str) -> str:
    """``path`` as the kernel resolved it: relative to its dirfd, else to the server's cwd."""
    return os.path.normpath(os.path.join(directory or str(ROOT), path))


def harmless(path: str) -> bool:
    """The allowlist: writes that put nothing on persistent disk, or nothing of a visitor's."""
    return path.startswith(RAM_DISK) or path in DEVICES or bool(BYTECODE.search(path))


def test_server_writes_nothing_outside_ram(run: Run) -> None:
    written = written_paths(run.trace)
    uploads = [path for path in written if path.startswith(str(run.server.cache))]
    # The uploads themselves must show up (in RAM), else the trace did not watch the right process.
    assert len(uploads) >= API_CALLS, "strace saw no upload reach the server's cache"
    offending = sorted({path for path in written if not harmless(path)})
    assert offending == [], "the server wrote outside /dev/shm:\n" + "\n".join(offending)


# --- (b) (c) (d) the in-RAM cache -----------------------------------------------------------------

def test_cache_holds_no_image_once_photos_are_read(run: Run) -> None:
    assert run.images_while_running == [], "photos left in the cache:\n" + "\n".join(
        map(str, run.images_while_running))


def test_sigterm_removes_the_cache(run: Run) -> None:
    assert not run.cache_left_after_sigterm, f"{run.server.cache} survived SIGTERM"


def test_restart_removes_the_cache_of_a_killed_server(run: Run) -> None:
    assert not run.dead_cache.exists(), f"{run.dead_cache} survived a restart"
    assert f'"{run.dead_cache}"' in run.trace, "the traced server was not the one that removed it"


# --- (e) the server log ---------------------------------------------------------------------------

BASE64_BLOB = re.compile(r"[A-Za-z0-9+/]{200,}={0,2}")
LOOPBACK_PORT = re.compile(r"127\.0\.0\.1:(\d+)")


def test_log_holds_no_image_data_or_client_address(run: Run) -> None:
    assert "data:image" not in run.log, "a data URL reached the log"
    assert not BASE64_BLOB.search(run.log), "a base64 blob reached the log"
    client_ports = {int(port) for port in LOOPBACK_PORT.findall(run.log)} - {run.server.port}
    assert client_ports == set(), f"client addresses in the log: {client_ports}"
