"""Every hostile upload ends in a painted face or a short, human message: never a crash.

Three views of the same corpus (:mod:`tests.hostile_corpus`): the library route (``load_image`` then
the painter), the real server's API for a representative subset, and the server's memory after
that subset, since a leak per bad upload would take a public demo down within a day.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import psutil
import pytest
import torch
from gradio_client import Client, handle_file

from portrait.inputs import InputError, Uploads, load_image
from tests import hostile_corpus as corpus

if TYPE_CHECKING:
    from PIL import Image

    from portrait.pipeline import Painter

#: What a message must never contain: traceback text, file paths, exception class names, internals.
LEAKS = re.compile("|".join([
    r"Traceback", r"File \"", r"line \d+", r"<module>",  # traceback text
    r"(?<![\w<])/\w", r"[A-Za-z]:\\",  # POSIX and Windows paths
    r"\b[A-Z]\w*(?:Error|Exception|Warning)\b",  # exception class names
    r"(?i:\b(?:struct|zlib|PIL|numpy|torch|errno)\b)", r"0x[0-9a-f]{2}",  # internals
]))


def assert_human(message: str) -> None:
    """Short, a sentence, and nothing a visitor could not (or should not) read."""
    assert 0 < len(message) < 200, f"message length {len(message)}: {message!r}"
    assert message[0].isupper() and message.rstrip().endswith((".", "!")), f"not a sentence: {message!r}"
    assert not LEAKS.search(message), f"message leaks internals: {message!r}"


@dataclass(frozen=True)
class Outcome:
    kind: str  #: "portrait" or "message"
    detail: str  #: the message, or what was painted
    faces: int = 0


@dataclass
class Tally:
    """Outcomes per expectation, printed at the end so the lead can read the corpus at a glance."""

    counts: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def add(self, case: corpus.Case, outcome: Outcome) -> None:
        self.counts[case.expect, outcome.kind] += 1
        if case.expect == "either":
            self.notes.append(f"  {case.name}: {outcome.kind} ({outcome.detail})")

    def report(self, title: str) -> str:
        total = sum(self.counts.values())
        counts = ", ".join(f"{expect}→{kind}: {n}" for (expect, kind), n in sorted(self.counts.items()))
        return "\n".join([f"{title}: {total} cases; {counts}", *self.notes])


def check(case: corpus.Case, outcome: Outcome, tally: Tally) -> None:
    """The outcome is what the case expects; messages are human; group photos offer every face."""
    tally.add(case, outcome)
    if outcome.kind == "message":
        assert_human(outcome.detail)
    else:
        assert outcome.faces >= case.faces, f"{outcome.faces} faces found, expected {case.faces}"
    assert case.expect in ("either", outcome.kind), f"expected {case.expect}, got {outcome}"


def paint_largest(painter: Painter, image: Image.Image) -> Outcome:
    """Find the faces and paint the largest, as the app does for a new photo."""
    try:
        image, faces = painter.upright_faces(image)
    except InputError as error:
        return Outcome("message", str(error))
    painted = painter.portrait(image, faces[0], painter.styles[0]).painted
    assert painted.dtype == np.uint8 and painted.ndim == 3 and painted.shape[2] == 3, painted.shape
    return Outcome("portrait", f"{len(faces)} face(s) in {image.width}×{image.height}", len(faces))


class Library:
    """The library route: ``load_image``, then the painter.

    A fifth of the corpus decodes to pixels an earlier case already produced (lossless containers,
    metadata variants). Past decoding the pipeline is a pure function of the pixels, so those
    cases reuse the earlier outcome rather than spend a CPU-second each learning nothing.
    """

    def __init__(self, painter: Painter) -> None:
        self.painter = painter
        self.seen: dict[bytes, Outcome] = {}

    def run(self, case: corpus.Case, folder: Path) -> Outcome:
        try:
            image = load_image(case.write(folder) if case.as_file else case.data)
        except InputError as error:
            return Outcome("message", str(error))
        key = hashlib.sha1(repr(image.size).encode() + image.tobytes()).digest()
        if key not in self.seen:
            self.seen[key] = paint_largest(self.painter, image)
        return self.seen[key]


@pytest.fixture(scope="module")
def library(painter: Painter) -> Iterator[tuple[Library, Tally]]:
    """The route, on one torch thread: a hundred small paintings gain little from a second
    thread, and on a shared CI box (or beside a training run) two threads stall at every OpenMP
    barrier, up to 10× slower. Restored afterwards for the other tests."""
    tally = Tally()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Library(painter), tally
    torch.set_num_threads(threads)
    print("\n" + tally.report("hostile corpus, library route"))


@pytest.mark.parametrize("name", corpus.NAMES)
def test_library_paints_or_explains(name: str, library: tuple[Library, Tally], tmp_path: Path) -> None:
    route, tally = library
    case = corpus.build(name)
    check(case, route.run(case, tmp_path), tally)


def test_corpus_is_big_enough() -> None:
    """Counted from the specs: test_library_paints_or_explains builds (and so checks) every case."""
    expectations = Counter(spec.expect for spec in corpus.SPECS.values())
    assert set(expectations) == {"portrait", "message", "either"}, expectations
    assert len(corpus.NAMES) >= 100 and min(expectations.values()) >= 10, expectations


@pytest.mark.parametrize("leak", [
    "Traceback (most recent call last):", "cannot identify image file '/tmp/gradio/ab12/selfie.jpg'",
    "DecompressionBombError: Image size (900000000 pixels) exceeds limit", "[Errno 2] No such file",
    "struct.error: unpack requires a buffer of 4 bytes", "Failed to decode: 0xff 0xd8",
])
def test_the_leak_detector_catches_internals(leak: str) -> None:
    with pytest.raises(AssertionError):
        assert_human(leak)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_puts_the_face_upright(orientation: int) -> None:
    """Decoded pixels match the upright photo: a missed rotation or mirror differs by far more."""
    decoded = np.asarray(load_image(corpus.oriented(orientation)), dtype=np.float32)
    upright = np.asarray(corpus.upright(), dtype=np.float32)
    assert decoded.shape == upright.shape
    assert np.abs(decoded - upright).mean() < 4


def test_identical_uploads_are_read_once_and_never_left_behind(tmp_path: Path) -> None:
    """Gradio gives identical uploads one path: a twin gets the remembered photo; no file stays."""
    uploads = Uploads(remember=3)
    photo = corpus.build("jpeg-bytes-not-file")
    folder = tmp_path / "sha256-of-the-bytes"  # Gradio's layout: one folder per distinct upload
    path = photo.write(folder)
    first = uploads.read(str(path))
    assert not path.exists()
    assert uploads.read(str(path)) is first  # the twin, after the file was deleted
    photo.write(folder)  # the same bytes uploaded again recreate the file...
    assert uploads.read(str(path)) is first and not path.exists()  # ...which is deleted again
    broken = corpus.build("text-named-jpg").write(tmp_path / "other")
    for _ in range(2):  # a twin of a bad file gets the same message, not "No image received"
        with pytest.raises(InputError, match="isn't an image"):
            uploads.read(str(broken))
    for name in ("png-rgb", "webp-lossy"):  # memory is bounded: three newer reads push it out
        uploads.read(str(corpus.build(name).write(tmp_path / name)))
    with pytest.raises(InputError, match="No image received"):
        uploads.read(str(path))
    forgetful = Uploads(remember=3, seconds=0)  # and time-bounded: nothing outlives TWIN_SECONDS
    forgetful.read(str(photo.write(folder)))
    with pytest.raises(InputError, match="No image received"):
        forgetful.read(str(path))


# --- the real server --------------------------------------------------------------------------------

#: A representative third of the corpus: every failure family once, and the portraits that take a
#: path of their own through decoding (colour modes, animation, orientation, group, size).
API_CASES = [
    "zero-byte-file", "text-named-jpg", "html-named-jpg", "svg-named-svg", "pdf-named-pdf", "eps-named-jpg",
    "heic-iphone-header", "zip-holding-a-jpeg", "random-bytes-1mb", "tga",
    "jpeg-truncated-50pct", "png-truncated-99pct", "png-bomb-30000x30000", "ico-holding-png-bomb",
    "gif-screen-65535", "jpeg-sof-claims-65500", "png-ihdr-claims-larger", "avif-pixels-zeroed",
    "png-flat-100mp", "png-1x1", "jpeg-20000x100-strip", "png-rgba-fully-transparent",
    "all-black-covered-webcam", "noise-rgb", "no-face-coffee",
    "jpeg-12000x9000", "jpeg-cmyk", "png-16bit-rgb", "png-palette-transparent", "png-la", "gif-animated",
    "webp-animated", "avif", "tiff-float32", "jpeg-exif-orientation-6", "jpeg-exif-orientation-3",
    "jpeg-icc-4mb", "group-12-faces", "face-webcam-720p",
]
STATUS_PREFIX = "⚠️ "


def rss(server) -> int:
    return psutil.Process(server.process.pid).memory_info().rss


@dataclass
class Api:
    client: Client
    warm_rss: int
    tally: Tally


@pytest.fixture(scope="module")
def api(server, tmp_path_factory) -> Iterator[Api]:
    """A client on the shared server, after warm-up paintings so lazy allocations are counted."""
    client = Client(server.url, verbose=False)
    astronaut = corpus.build("jpeg-bytes-not-file").write(tmp_path_factory.mktemp("warm-up"))
    for _ in range(3):
        client.predict(handle_file(str(astronaut)), "oil", api_name="/paint")
    result = Api(client, rss(server), Tally())
    yield result
    print("\n" + result.tally.report("hostile corpus, server API"))


def visit(client: Client, path: Path) -> Outcome:
    """Upload like the webcam/upload widget does and read what the page would show."""
    original, portrait, thumbnails, status = client.predict(handle_file(str(path)), "oil", api_name="/paint")
    if original is None or portrait is None:
        assert original is None and portrait is None and status.startswith(STATUS_PREFIX), status
        return Outcome("message", status.removeprefix(STATUS_PREFIX))
    for image in (original, portrait):
        assert image["url"].startswith("data:image/webp;base64,"), str(image)[:100]
    offered = thumbnails["value"] if isinstance(thumbnails, dict) else thumbnails or []
    faces = max(1, len(offered))
    if faces > 1:  # the visitor is told, and offered a numbered thumbnail of each face
        assert [item["caption"] for item in offered] == [str(i + 1) for i in range(faces)], offered
        assert all(item["image"]["url"].startswith("data:image/") for item in offered)
        assert status.startswith(f"{faces} faces"), status
    return Outcome("portrait", f"{faces} face(s) offered", faces)


@pytest.mark.parametrize("name", API_CASES)
def test_server_paints_or_explains(name: str, api: Api, tmp_path: Path) -> None:
    case = corpus.build(name)
    check(case, visit(api.client, case.write(tmp_path)), api.tally)


def test_server_survives_the_corpus(api: Api, server, tmp_path: Path) -> None:
    """Still up, still painting, and not holding on to what the bombs and giants made it allocate."""
    assert server.process.poll() is None, "the server died"
    outcome = visit(api.client, corpus.build("jpeg-bytes-not-file").write(tmp_path))
    assert outcome.kind == "portrait", outcome
    after = rss(server)
    print(f"\nserver RSS after warm-up {api.warm_rss / 2**20:.0f} MB, "
          f"after {len(API_CASES)} hostile uploads {after / 2**20:.0f} MB")
    assert after < api.warm_rss * 1.25 + 150 * 2**20, (api.warm_rss, after)


#: What the painter after a master is sent: a face it must paint, and inputs it must explain.
#: (It paints the largest face of a group: the page offers the others one by one.)
MASTER_CASES = ["face-webcam-720p", "jpeg-exif-orientation-6", "tiff-float32",
                "webp-animated", "avif", "jpeg-icc-4mb", "text-named-jpg", "no-face-coffee",
                "png-bomb-30000x30000", "all-black-covered-webcam", "noise-rgb", "png-1x1"]


@pytest.mark.parametrize("name", MASTER_CASES)
def test_the_painter_after_masters_paints_or_explains(name: str, api: Api, tmp_path: Path) -> None:
    case = corpus.build(name)
    portrait, label = api.client.predict(handle_file(str(case.write(tmp_path))), "oil",
                                         api_name="/paint_after_master")
    if portrait is None:
        assert label.startswith(STATUS_PREFIX), label
        outcome = Outcome("message", label.removeprefix(STATUS_PREFIX))
    else:
        assert portrait["url"].startswith("data:image/webp;base64,") and ", after " in label, label
        outcome = Outcome("portrait", label, 1)
    check(case, outcome, api.tally)


def test_api_cases_exist() -> None:
    assert len(API_CASES) >= 30 and set(API_CASES) <= set(corpus.NAMES)
