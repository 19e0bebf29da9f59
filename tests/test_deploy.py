"""The app runs where its users run it: a Hugging Face Space, a kiosk on a LAN, a small container.

Listening: the real app is started as a Space starts it (``GRADIO_SERVER_NAME=0.0.0.0``, no
flags), as a laptop does (nothing set) and with flags that override the environment; the kernel's
table of listening sockets (psutil) says where it listens. Every request goes to 127.0.0.1: no
traffic to any other address.

RAM disk: where the private cache goes and how much it may hold, with a monkeypatched capacity,
on small tmpfs mounts, and end to end: the real app in a mount namespace of its own whose
``/dev/shm`` is 64 MB, or a plain directory on disk.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import requests

from portrait import privacy
from portrait.inputs import MAX_FILE_BYTES
from portrait.privacy import FLOOR_BYTES, MB, RESERVE_BYTES, UploadBudget, ram_disk, upload_budget
from tests.conftest import ROOT, Server, free_port
from tests.test_load import app_setting

#: The app's queue and the paintings it reads at once.
QUEUE, PAINTING = app_setting("QUEUE_SIZE"), app_setting("CONCURRENCY")
#: Variables that would decide the address if the test's own environment had them.
ADDRESS_VARIABLES = ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "XDG_RUNTIME_DIR")


def environment(**extra: str) -> dict[str, str]:
    """This environment without any address or runtime-directory setting, plus ``extra``."""
    clean = {k: v for k, v in os.environ.items() if k not in ADDRESS_VARIABLES}
    return {**clean, **extra}


def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process and its children listen on."""
    process = psutil.Process(pid)
    found = set()
    for p in (process, *process.children(recursive=True)):
        try:  # a child may end while it is looked at (the app's imports run gcc once)
            found |= {(c.laddr.ip, c.laddr.port) for c in p.net_connections(kind="tcp")
                      if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            continue
    return found


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def running(log: Path, port: int, *args: str, env: dict[str, str], prefix: tuple[str, ...] = (),
            timeout: float = 120) -> Iterator[Server]:
    """``python app.py *args`` (no ``--port`` added) until it answers on 127.0.0.1:``port``; always stopped.

    ``prefix`` runs the app under another command that ends by exec-ing it (its pid stays the app's).
    """
    with open(log, "w") as handle:
        process = subprocess.Popen([*prefix, sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT,
                                   stdout=handle, stderr=subprocess.STDOUT, env=env)
    server = Server(f"http://127.0.0.1:{port}/", process, log)
    try:
        deadline = time.monotonic() + timeout
        while "Running on" not in log.read_text() or not listening(process.pid):
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited early:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not start in {timeout}s:\n{log.read_text()}")
            time.sleep(0.5)
        with urllib.request.urlopen(server.url, timeout=10) as page:  # it answers, through loopback
            assert page.status == 200
        yield server
    finally:
        server.stop()


# --- where it listens -----------------------------------------------------------------------------

def test_started_as_a_space_listens_on_every_address(tmp_path):
    """A Space sets GRADIO_SERVER_NAME=0.0.0.0 and runs ``python app.py``: its health check must reach it."""
    port = free_port()
    env = environment(GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SERVER_PORT=str(port))
    with running(tmp_path / "app.log", port, env=env) as server:
        assert listening(server.process.pid) == {("0.0.0.0", port)}


def test_nothing_set_listens_on_this_machine_only(tmp_path):
    if not port_free(7860):
        pytest.skip("port 7860 is taken on this machine")
    with running(tmp_path / "app.log", 7860, env=environment()) as server:
        assert listening(server.process.pid) == {("127.0.0.1", 7860)}


def test_flags_win_over_the_environment(tmp_path):
    port, flag_port = free_port(), free_port()
    env = environment(GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SERVER_PORT=str(port))
    with running(tmp_path / "app.log", flag_port, "--host", "127.0.0.1", "--port", str(flag_port),
                 env=env) as server:
        assert listening(server.process.pid) == {("127.0.0.1", flag_port)}


# --- which RAM disk --------------------------------------------------------------------------------

MOUNTS = r"""overlay / overlay rw,relatime 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev,size=65536k 0 0
/dev/vda /dev/shm ext4 rw,relatime 0 0
tmpfs /run/user/1000 tmpfs rw,nosuid,nodev,size=1630000k 0 0
tmpfs /mnt/with\040space tmpfs rw 0 0
"""


@pytest.mark.parametrize(("path", "kind"), [
    ("/dev/shm/portrait-studio-1", "ext4"),  # of two mounts on one point the later is the visible one
    ("/run/user/1000", "tmpfs"),
    ("/run/user/1000/portrait-studio-1", "tmpfs"),
    ("/run/user/10001", "overlay"),  # a name that merely starts like a mount point is not under it
    ("/mnt/with space/x", "tmpfs"),
    ("/home", "overlay"),
])
def test_filesystem_type_is_that_of_the_deepest_mount(path, kind):
    assert privacy.filesystem_type(Path(path), MOUNTS) == kind


def disk_folder(tmp_path: Path) -> Path:
    """A folder on persistent disk (the test's temporary folder, unless this machine keeps that in RAM)."""
    if privacy.filesystem_type(tmp_path) == "tmpfs":
        pytest.skip("the temporary folder is on tmpfs here: no persistent disk to test against")
    return tmp_path


def test_no_ram_disk_refuses_rather_than_use_the_disk(tmp_path):
    places = [disk_folder(tmp_path), tmp_path / "missing"]
    with pytest.raises(SystemExit, match="refusing to start: no writable RAM disk") as refusal:
        ram_disk(places)
    assert str(tmp_path) in str(refusal.value) and "--shm-size" in str(refusal.value)
    assert not any(tmp_path.iterdir())


def test_the_roomiest_ram_disk_is_chosen(tmp_path, monkeypatch):
    small, large, disk = (tmp_path / name for name in ("small", "large", "disk"))
    for folder in (small, large, disk):
        folder.mkdir()
    room = {small: 64 * MB, large: 1024 * MB, disk: 100_000 * MB}
    monkeypatch.setattr(privacy, "filesystem_type", lambda path: "ext4" if path == disk else "tmpfs")
    monkeypatch.setattr(privacy, "free_bytes", room.__getitem__)
    assert ram_disk([small, disk, large]) == large
    assert ram_disk([small, disk]) == small


def test_the_runtime_directory_is_a_candidate(monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/4242")
    assert privacy.ram_disks()[:2] == [Path("/dev/shm"), Path("/run/user/4242")]


# --- how much it may hold ------------------------------------------------------------------------

def budget_for(free: int, monkeypatch, waiting: int = QUEUE, painting: int = PAINTING) -> UploadBudget:
    monkeypatch.setattr(privacy, "free_bytes", lambda folder: free)
    return upload_budget(Path("/dev/shm"), MAX_FILE_BYTES, waiting, painting)


#: For a queue of 20 and one painting, 40 MB uploads.
@pytest.mark.parametrize(("free_mb", "largest_mb", "waiting"), [
    (16_000, 40, 20),  # a laptop or a free Space: the full service
    (8 + 21 * 40, 40, 20),  # exactly a full queue of 40 MB uploads
    (8 + 21 * 40 - 1, 39, 20),  # a byte less: the upload limit comes down first
    (200, 9, 20),
    (64, 8, 6),  # Docker's default /dev/shm: at the floor, a shorter queue
    (24, 8, 1),  # the least it starts with: one painting, one waiting
])
def test_the_budget_fits_in_the_ram_disk(free_mb, largest_mb, waiting, monkeypatch):
    assert budget_for(free_mb * MB, monkeypatch, 20, 1) == UploadBudget(largest_mb * MB, waiting)


def test_too_small_a_ram_disk_refuses(monkeypatch):
    with pytest.raises(SystemExit, match="has 23 MB free; it needs 24 MB"):
        budget_for(23 * MB, monkeypatch, 20, 1)


def test_a_full_queue_never_outgrows_the_ram_disk(monkeypatch):
    """Whatever the room, the largest uploads of everyone waiting and painting fit beside the reserve."""
    least = RESERVE_BYTES + (PAINTING + 1) * FLOOR_BYTES
    for free in range(least, RESERVE_BYTES + (QUEUE + PAINTING + 1) * MAX_FILE_BYTES, 3 * MB + 12_345):
        budget = budget_for(free, monkeypatch)
        assert (budget.waiting + PAINTING) * budget.largest + RESERVE_BYTES <= free
        assert FLOOR_BYTES <= budget.largest <= MAX_FILE_BYTES and 1 <= budget.waiting <= QUEUE


# --- uploads that never arrive whole ---------------------------------------------------------------

def test_stranded_uploads_are_told_from_those_on_their_way(tmp_path):
    """Closed and unchanged for a while: stranded. Still open (arriving), just written, or already
    in its own folder (waiting to be read): left alone."""
    uploads = tmp_path / "gradio"
    (uploads / "f00d").mkdir(parents=True)
    left, arriving, finished = uploads / "tmpleft", uploads / "tmparriving", uploads / "tmpjustnow"
    waiting = uploads / "f00d" / "selfie.jpg"
    for path in (left, arriving, finished, waiting):
        path.write_bytes(b"\xff\xd8\xff" + bytes(100))
    past = time.time() - 10 * privacy.STRANDED_SECONDS
    for path in (left, arriving, waiting):
        os.utime(path, (past, past))
    with open(arriving, "ab"):
        assert privacy.stranded(uploads) == [left]
    assert sorted(privacy.stranded(uploads)) == sorted([left, arriving])
    assert privacy.stranded(tmp_path / "no uploads yet") == []


def test_the_sweeper_removes_stranded_uploads(tmp_path):
    uploads = tmp_path / "gradio"
    uploads.mkdir()
    (uploads / "tmphalf").write_bytes(b"\xff\xd8\xff half a photo")
    privacy.sweep_stranded(uploads)
    deadline = time.monotonic() + 3 * (privacy.STRANDED_SECONDS + privacy.SWEEP_SECONDS)
    while (uploads / "tmphalf").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (uploads / "tmphalf").exists()


# --- on real small tmpfs mounts ------------------------------------------------------------------

@pytest.fixture
def tmpfs(tmp_path) -> Iterator[Callable[[str], Path]]:
    """Mount a tmpfs of a given size (``"64m"``) under the test's folder; all unmounted afterwards."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"tmpfs-{size}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


def test_a_64_mb_tmpfs_holds_its_whole_budget(tmpfs, tmp_path):
    shm = tmpfs("64m")
    assert ram_disk([disk_folder(tmp_path), shm]) == shm
    budget = upload_budget(shm, MAX_FILE_BYTES, QUEUE, PAINTING)
    assert budget == UploadBudget(8 * MB, 6)  # (64 - 8) MB: 7 uploads of 8 MB
    for n in range(budget.waiting + PAINTING):  # the real file system takes them all
        (shm / f"upload-{n}.jpg").write_bytes(bytes(budget.largest))


def test_an_8_mb_tmpfs_is_refused(tmpfs):
    with pytest.raises(SystemExit, match="refusing to start"):
        upload_budget(tmpfs("8m"), MAX_FILE_BYTES, QUEUE, PAINTING)


# --- the real app in a mount namespace of its own ------------------------------------------------

@pytest.fixture(scope="module")
def namespace(tmp_path_factory) -> Callable[[str], tuple[str, ...]]:
    """A prefix that runs the app with its own mounts (``unshare --mount``): nothing leaks to this machine."""
    probe = tmp_path_factory.mktemp("probe")
    done = subprocess.run(["unshare", "--mount", "mount", "-t", "tmpfs", "tmpfs", str(probe)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"no private mount namespace here: {done.stderr.strip()}")
    return lambda mounts: ("unshare", "--mount", "sh", "-c", f'{mounts} && exec "$0" "$@"')


def test_docker_default_shm_starts_with_a_smaller_budget(tmp_path, namespace):
    port = free_port()
    prefix = namespace("mount -t tmpfs -o size=64m tmpfs /dev/shm")
    with running(tmp_path / "app.log", port, "--port", str(port), env=environment(), prefix=prefix) as server:
        assert re.search(r"/dev/shm/portrait-studio-\d+ has 64 MB free: uploads limited to 8 MB and "
                         r"6 visitors waiting", server.log.read_text())
        too_big = requests.post(f"{server.url}gradio_api/upload", timeout=30,
                                files={"files": ("selfie.jpg", bytes(8 * MB + 1), "image/jpeg")})
        assert too_big.status_code == 413


def test_shm_on_disk_falls_back_to_the_runtime_directory(tmp_path, namespace):
    disk, runtime, port = disk_folder(tmp_path) / "shm", tmp_path / "runtime", free_port()
    disk.mkdir()
    runtime.mkdir()
    prefix = namespace(f"mount --bind {disk} /dev/shm && mount -t tmpfs -o size=1g tmpfs {runtime}")
    env = environment(XDG_RUNTIME_DIR=str(runtime))
    with running(tmp_path / "app.log", port, "--port", str(port), env=env, prefix=prefix) as server:
        assert f"cache in RAM at {runtime}/portrait-studio-{server.process.pid}" in server.log.read_text()
    assert not any(disk.iterdir())


def test_no_ram_disk_at_all_refuses_to_start(tmp_path, namespace):
    disk = disk_folder(tmp_path) / "shm"
    disk.mkdir()
    hide_runtime = f"if [ -d /run/user/{os.getuid()} ]; then mount --bind {disk} /run/user/{os.getuid()}; fi"
    prefix = namespace(f"mount --bind {disk} /dev/shm && {hide_runtime}")
    done = subprocess.run([*prefix, sys.executable, str(ROOT / "app.py"), "--port", str(free_port())],
                          cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "refusing to start: no writable RAM disk (tmpfs)" in done.stderr, done.stderr
    assert not any(disk.iterdir())  # nothing written where the RAM disk should have been
