"""Twenty visitors at once on the real server (loopback only): everyone gets a portrait or a retry.

The app paints one photo at a time (``CONCURRENCY = 1``) and lets ``QUEUE_SIZE = 20`` wait. Twenty
visitors who each wait for their portrait before asking again never overflow that queue, so the
load test expects zero failures and zero refusals; a burst beyond the queue is tested on its own,
because there a refusal is the design: Gradio answers HTTP 503, gradio_client raises
``QueueError("Queue is full! Please try again.")`` and the page shows "This application is
currently busy. Please try again." What must never happen is any other error.

Short by default (CI); ``PORTRAIT_LOAD_SECONDS=120`` gives the full two-minute run. The figures are
printed (run pytest with ``-s``) and written to ``load.json`` in the test's tmp_path.
"""

from __future__ import annotations

import ast
import json
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from gradio_client import Client, handle_file
from gradio_client.utils import QueueError

from tests import hostile_corpus as corpus


def app_setting(name: str) -> int:
    """A constant of app.py, read without importing it: the import would move this process's
    caches to RAM and take over its signal handlers."""
    tree = ast.parse((Path(__file__).resolve().parent.parent / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(name)


QUEUE_SIZE = app_setting("QUEUE_SIZE")

CLIENTS = 20
SECONDS = float(os.environ.get("PORTRAIT_LOAD_SECONDS", "20"))
#: A request may wait behind all the others: 20 paintings at a few seconds each, with room to spare.
REQUEST_TIMEOUT = 240.0
#: Loops are bounded in count as well as in time.
MAX_REQUESTS_PER_CLIENT = 500
#: What a refused visitor is told: gradio_client's text (the page's own is "...busy. Please try again.").
RETRY_HINT = "try again"


@dataclass(frozen=True)
class Visit:
    started: float  #: seconds since the test began
    latency: float
    outcome: str  #: "portrait", "busy" (queue full, asked to retry) or "failed"
    detail: str = ""


class RssSampler(threading.Thread):
    """The server's resident memory every 0.2 s: start, peak, end, the peak of each half of the run
    (a leak grows through the second; a working set filling up does not), and a coarse trace."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.samples = [self.process.memory_info().rss]
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            self.samples.append(self.process.memory_info().rss)

    def stop(self) -> dict:
        self.stopped.set()
        self.join(5)
        self.samples.append(self.process.memory_info().rss)
        megabytes = [round(sample / 2**20) for sample in self.samples]
        half = len(megabytes) // 2
        return {"start": megabytes[0], "peak": max(megabytes), "end": megabytes[-1],
                "halves": [max(megabytes[: half + 1]), max(megabytes[half:])], "every_10s": megabytes[::50]}


def ask(client: Client, photo: Path, began: float, endpoint: str = "/paint") -> Visit:
    """One visit: upload, wait in the queue, get the painting (or be asked to come back).

    ``/paint`` answers the framed photo, the instant portrait, thumbnails and a status line;
    ``/paint_after_master`` the portrait after a master and its museum label.
    """
    start = time.monotonic()
    try:
        job = client.submit(handle_file(str(photo)), "oil", api_name=endpoint)
        answer = job.result(timeout=REQUEST_TIMEOUT)
        portrait, status = (answer[1], answer[3]) if endpoint == "/paint" else answer
        outcome, detail = ("portrait", status) if portrait else ("failed", f"no portrait: {status}")
    except QueueError as error:
        outcome, detail = "busy", str(error)
    except Exception as error:  # noqa: BLE001 — any other failure is what this test counts
        outcome, detail = "failed", f"{type(error).__name__}: {error}"
    return Visit(start - began, time.monotonic() - start, outcome, detail)


def visitor(client: Client, photo: Path, began: float, deadline: float) -> list[Visit]:
    """Ask, look, ask again until the deadline; after a refusal, wait a moment as a person would."""
    visits: list[Visit] = []
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= deadline:
            break
        visits.append(ask(client, photo, began))
        if visits[-1].outcome == "busy":
            time.sleep(1.0)
    return visits


def photos(folder: Path, count: int) -> list[Path]:
    """One webcam shot per visitor, each with its own bytes, as real webcam shots are.

    Gradio stores an upload under the hash of its content, so identical files share a path; see
    test_identical_uploads_waiting_together_are_all_painted for what that does to the app.
    """
    shot = corpus.canvas((1280, 720), corpus.astronaut())
    paths = [folder / f"visitor-{index}.jpg" for index in range(count)]
    for index, path in enumerate(paths):
        path.write_bytes(corpus.jpeg(shot, comment=f"visitor {index}".encode()))
    return paths


@contextmanager
def visitors(server, count: int) -> Iterator[list[Client]]:
    """``count`` independent visitors (each its own session and heartbeat), connected in parallel
    and closed after, in parallel too: a close waits up to a second for its heartbeat thread."""
    with ThreadPoolExecutor(count) as pool:
        clients = list(pool.map(lambda _: Client(server.url, verbose=False), range(count)))
    try:
        yield clients
    finally:
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(Client.close, clients))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def summarize(visits: list[Visit], wall: float, memory: dict) -> dict:
    painted = [visit.latency for visit in visits if visit.outcome == "portrait"]
    return {
        "clients": CLIENTS, "seconds": SECONDS, "wall_s": round(wall, 1),
        "requests": dict(Counter(visit.outcome for visit in visits)),
        "throughput_per_s": round(len(painted) / wall, 3),
        "latency_s": {"p50": round(statistics.median(painted), 2) if painted else None,
                      "p95": round(percentile(painted, 0.95), 2), "max": round(max(painted, default=0), 2)},
        "server_rss_mb": memory,
        "failures": [asdict(visit) for visit in visits if visit.outcome == "failed"][:10],
    }


def test_twenty_visitors_at_once(server, tmp_path: Path) -> None:
    sampler = RssSampler(server.process.pid)
    with visitors(server, CLIENTS) as clients, ThreadPoolExecutor(CLIENTS) as pool:
        sampler.start()
        began = time.monotonic()
        deadline = began + SECONDS
        runs = [pool.submit(visitor, client, photo, began, deadline)
                for client, photo in zip(clients, photos(tmp_path, CLIENTS), strict=True)]
        visits = [visit for run in runs for visit in run.result(timeout=SECONDS + REQUEST_TIMEOUT + 30)]
    summary = summarize(visits, time.monotonic() - began, sampler.stop())
    (tmp_path / "load.json").write_text(json.dumps(summary, indent=2))
    print(f"\nload test, {CLIENTS} clients × {SECONDS:.0f} s: {json.dumps(summary)}")

    assert summary["requests"].get("failed", 0) == 0, summary["failures"]
    assert summary["requests"].get("busy", 0) == 0, "20 visitors must fit a queue of 20"
    assert summary["requests"].get("portrait", 0) >= CLIENTS, "every visitor got at least one portrait"
    memory = summary["server_rss_mb"]
    assert memory["end"] < memory["start"] * 1.25 + 200, memory
    assert server.process.poll() is None


def places_told(jobs: list, seconds: float = 60) -> list[int | None]:
    """The furthest place in the queue each job was told, watched until every job has been told
    one or has finished (uploads arrive over some seconds on a busy machine)."""
    told: list[int | None] = [None] * len(jobs)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for i, job in enumerate(jobs):
            rank = job.status().rank
            if rank is not None:
                told[i] = max(rank, told[i] or 0)
        if all(rank is not None or job.done() for rank, job in zip(told, jobs, strict=True)):
            break
        time.sleep(0.2)
    return told


def test_twenty_visitors_painted_after_masters(server, tmp_path: Path) -> None:
    """Twenty visitors at once ask for the slow painting after a master (~1-2 s each): they queue
    one behind the other, told where they stand; nobody fails and memory stays bounded."""
    sampler = RssSampler(server.process.pid)
    with visitors(server, CLIENTS) as clients, ThreadPoolExecutor(CLIENTS) as pool:
        shots = photos(tmp_path, CLIENTS)
        # The baseline is a ready painter: a fresh server is still preparing its library of masters.
        clients[0].predict(handle_file(str(shots[0])), "ink", api_name="/paint_after_master")
        sampler.start()
        began = time.monotonic()
        jobs = [client.submit(handle_file(str(photo)), "ink", api_name="/paint_after_master")
                for client, photo in zip(clients, shots, strict=True)]
        ranks = places_told(jobs)
        answers = list(pool.map(lambda job: job.result(timeout=REQUEST_TIMEOUT), jobs))
        wall = time.monotonic() - began
    memory = sampler.stop()
    seen = sorted(rank for rank in ranks if rank)
    print(f"\n{CLIENTS} visitors after masters: {wall:.1f} s, queue ranks seen {seen}, server RSS {memory}")
    assert all(portrait and ", after " in label for portrait, label in answers), answers
    assert max(rank or 0 for rank in ranks) >= CLIENTS // 2, ranks  # the queue told them their place
    # Twenty uploads, their queue and the painting threads' memory fill up in the first half of the
    # run and then stay: a fresh server grows by several hundred MB to get there, and then no more.
    first, second = memory["halves"]
    assert second < first + 150, memory
    assert server.process.poll() is None


def test_a_burst_beyond_the_queue_is_asked_to_retry(server, tmp_path: Path) -> None:
    """More simultaneous uploads than queue places: the surplus is told to retry, nobody errors."""
    burst = QUEUE_SIZE + 12
    with visitors(server, burst) as clients, ThreadPoolExecutor(burst) as pool:
        began = time.monotonic()
        visits = list(pool.map(ask, clients, photos(tmp_path, burst), [began] * burst))
    outcomes = Counter(visit.outcome for visit in visits)
    print(f"\nburst of {burst} against a queue of {QUEUE_SIZE}: {dict(outcomes)}, "
          f"refusals said {sorted({visit.detail for visit in visits if visit.outcome == 'busy'})}")
    assert outcomes["failed"] == 0, [visit for visit in visits if visit.outcome == "failed"]
    # Whether the queue fills depends on how fast this machine paints; whatever happens, every
    # visitor gets a portrait or the polite retry hint, and the queue's worth is always served.
    assert all(RETRY_HINT in visit.detail.lower() for visit in visits if visit.outcome == "busy")
    assert outcomes["portrait"] + outcomes["busy"] == burst
    assert outcomes["portrait"] >= min(burst, QUEUE_SIZE)


def test_identical_uploads_waiting_together_are_all_painted(server, tmp_path: Path) -> None:
    """Two visitors send the same file while the painter is busy: both must get their portrait."""
    twin = photos(tmp_path, 1)[0]
    group = corpus.build("group-24-faces").write(tmp_path)  # slow to detect: the twins queue behind it
    with visitors(server, 3) as clients, ThreadPoolExecutor(3) as pool:
        began = time.monotonic()
        first = pool.submit(ask, clients[0], group, began)
        time.sleep(0.3)
        twins = [pool.submit(ask, client, twin, began) for client in clients[1:]]
        visits = [first.result(), *(job.result() for job in twins)]
    assert [visit.outcome for visit in visits] == ["portrait"] * 3, visits
