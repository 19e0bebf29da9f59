"""Drive the real app page in Debian's headless Chromium with a fake webcam.

Shared by the browser test and the privacy test, so that the privacy test sends photos through
exactly the path a visitor's browser uses (webcam capture, file upload), not only through the API.
Chromium is the system one: no browser is ever downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright
from skimage import data

CHROMIUM = "/usr/bin/chromium"
#: The app paints, and Chromium renders, on a shared 2-core CPU: Playwright's 30 s default for a
#: step is too short when other jobs load the machine, so every step gets this long.
STEP_TIMEOUT_MS = 120_000
#: Schemes that never leave the page: the app sends its images back as data: URLs.
IN_PAGE_SCHEMES = ("data", "blob")
#: BT.601 limited-range RGB → Y'CbCr, what Chromium assumes for an I420 .y4m capture file.
BT601 = np.array([[0.256788, 0.504129, 0.097906],
                  [-0.148223, -0.290993, 0.439216],
                  [0.439216, -0.367788, -0.071427]])


def _i420(canvas: Image.Image) -> bytes:
    ycc = np.asarray(canvas, dtype=np.float64) @ BT601.T + [16, 128, 128]
    ycc = np.clip(ycc.round(), 0, 255).astype(np.uint8)
    # 4:2:0: one chroma sample per 2×2 block, centred ("C420jpeg" siting), so average the block.
    chroma = ycc[..., 1:].reshape(240, 2, 320, 2, 2).mean(axis=(1, 3)).round().astype(np.uint8)
    return ycc[..., 0].tobytes() + chroma[..., 0].tobytes() + chroma[..., 1].tobytes()


def write_fake_webcam(path: Path, frames: int = 1) -> Path:
    """Write a 640×480 .y4m with the astronaut's face, for Chromium's fake camera (it loops).

    With ``frames`` > 1 the face sways sideways, like a person in front of a live mirror.
    """
    face = Image.fromarray(data.astronaut()).resize((480, 480))
    chunks = [b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n"]
    for i in range(frames):
        canvas = Image.new("RGB", (640, 480), (40, 40, 40))
        canvas.paste(face, (80 + round(40 * np.sin(2 * np.pi * i / frames)), 0))
        chunks += [b"FRAME\n", _i420(canvas)]
    path.write_bytes(b"".join(chunks))
    return path


def chromium_args(webcam: Path) -> list[str]:
    """Flags for a quiet, offline Chromium whose camera plays ``webcam`` and needs no permission click."""
    return ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={webcam}"]


@contextmanager
def chromium(webcam: Path) -> Iterator[Browser]:
    """A headless system Chromium whose webcam shows ``webcam`` (a .y4m file)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=chromium_args(webcam))
        try:
            yield browser
        finally:
            browser.close()


@dataclass(frozen=True)
class Shown:
    """What an ``<img>`` in a component currently displays."""

    width: int  #: naturalWidth: 0 when the image failed to load
    src: str


@dataclass
class Studio:
    """The app page in one fresh browser context, with every URL the context asked for."""

    page: Page
    url: str
    requested: list[str] = field(default_factory=list)

    def capture_webcam(self) -> None:
        """Open the webcam in the photo component and take a picture, as a visitor would."""
        self.page.locator("#photo").get_by_text("Click to Access Webcam").click()
        self.page.wait_for_function(
            "() => { const v = document.querySelector('#photo video');"
            " return !!v && v.readyState >= 2 && v.videoWidth > 0; }")
        self.page.locator("#photo button[aria-label='capture photo']").click()

    def switch_to_upload(self) -> None:
        """Pick the photo component's upload source (the webcam is the default)."""
        self.page.locator("#photo button[aria-label='Upload file']").click()

    def upload(self, path: Path) -> None:
        """Switch the photo component to upload and choose ``path`` in its file input."""
        self.switch_to_upload()
        self.page.locator("#photo input[type=file]").set_input_files(path)

    def remove_photo(self) -> None:
        """Press the × on the photo, as a visitor does to take their picture back."""
        self.page.locator("#photo button[aria-label='Remove Image']").click()

    def choose_style(self, name: str) -> None:
        self.page.locator("#style").get_by_label(name, exact=True).check()

    def shown(self, elem_id: str) -> Shown | None:
        """The image a component shows now, or None when it shows none."""
        found = self.page.evaluate(
            "(id) => { const i = document.querySelector(`#${id} img`);"
            " return i && {width: i.complete ? i.naturalWidth : 0, src: i.getAttribute('src') || ''}; }",
            elem_id)
        return Shown(**found) if found else None

    def wait_for_image(self, elem_id: str, replacing: str | None = None) -> Shown:
        """Wait until a component shows a loaded image other than ``replacing`` (an older src)."""
        self.page.wait_for_function(
            "([id, old]) => { const i = document.querySelector(`#${id} img`);"
            " return !!i && i.complete && i.naturalWidth > 0 && i.getAttribute('src') !== old; }",
            arg=[elem_id, replacing])
        return self.shown(elem_id)

    def settled(self, elem_id: str, quiet_s: float = 12.0) -> Shown:
        """The image a component shows once it has stopped changing for ``quiet_s`` seconds: the
        instant portrait is replaced by the painting after a master a few seconds later."""
        shown, since = self.shown(elem_id), time.monotonic()
        while time.monotonic() - since < quiet_s:
            time.sleep(0.5)
            now = self.shown(elem_id)
            if now != shown:
                shown, since = now, time.monotonic()
        return shown

    def wait_for_label(self, replacing: str | None = None, timeout_ms: float = STEP_TIMEOUT_MS) -> str:
        """Wait until the museum label under the portrait names a master (and is not ``replacing``).

        The first painting after a master waits for the library and its kernels (seconds, but
        minutes under strace): callers that trace the server give it longer.
        """
        self.page.wait_for_function(
            "(old) => { const t = document.querySelector('#label').innerText;"
            " return t.includes(', after ') && t !== old; }", arg=replacing, timeout=timeout_ms)
        return self.page.locator("#label").inner_text()

    def paint(self) -> None:
        self.page.locator("#paint").click()

    def wait_for_status(self, expected: str) -> None:
        """Wait until the status line under the Paint button says ``expected``."""
        self.page.wait_for_function("(text) => document.querySelector('#status').innerText.includes(text)",
                                    arg=expected)

    def text(self) -> str:
        """Everything the visitor can read on the page, toasts included."""
        return self.page.locator("body").inner_text()

    def foreign_requests(self) -> list[str]:
        """Requested URLs that are neither on the app's own origin nor in-page data/blob URLs."""
        origin = urlsplit(self.url).netloc
        return [url for url in self.requested
                if urlsplit(url).scheme not in IN_PAGE_SCHEMES and urlsplit(url).netloc != origin]


@contextmanager
def open_studio(browser: Browser, url: str, screenshot: Path) -> Iterator[Studio]:
    """The app page in a fresh context (no state shared between visits); screenshot kept at exit."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.on("websocket", lambda socket: requested.append(socket.url))
    try:
        page.goto(url)
        page.locator("#photo").wait_for()
        yield Studio(page, url, requested)
    finally:
        page.screenshot(path=screenshot, full_page=True)
        context.close()
