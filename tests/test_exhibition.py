"""The exhibition features in a real browser: the live painted mirror, the kiosk screen, group photos."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
from PIL import Image
from playwright.sync_api import Browser, Page

from tests._browser import chromium, keep_screenshot, open_studio, write_fake_webcam
from tests.conftest import Server, group_photo, jpeg_bytes, start_server

LIVE_SECONDS = 15
#: The address a kiosk's QR codes point phones at (given, so nothing on the network is looked up;
#: the test fetches the same path from the server itself).
KIOSK_ADDRESS = "http://kiosk.test:7860"
EXHIBITION_SCREEN = (1920, 1080)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Chromium whose fake webcam shows a swaying face (so live frames differ)."""
    webcam = write_fake_webcam(tmp_path_factory.mktemp("webcam") / "sway.y4m", frames=30)
    with chromium(webcam) as browser:
        yield browser


@pytest.fixture(scope="module")
def kiosk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("kiosk") / "app.log", "--kiosk", "--idle", "25",
                          "--address", KIOSK_ADDRESS)
    yield server
    server.stop()


def test_live_mirror_streams_painted_frames_and_freezes(browser: Browser, server: Server,
                                                        tmp_path: Path) -> None:
    with open_studio(browser, server.url, tmp_path / "live.png") as studio:
        page = studio.page
        page.get_by_role("tab", name="Live mirror").click()
        page.locator("#live-camera").get_by_text("Click to Access Webcam").click()
        page.wait_for_function("() => { const v = document.querySelector('#live-camera video');"
                               " return !!v && v.readyState >= 2 && v.videoWidth > 0; }")
        page.locator("#live-camera button[aria-label='capture photo']").click()  # "Record"
        studio.wait_for_image("live-portrait")
        frames, start = set(), time.monotonic()
        while time.monotonic() - start < LIVE_SECONDS:
            shown = studio.shown("live-portrait")
            if shown and shown.width:
                frames.add(shown.src)
            time.sleep(0.05)
        print(f"live mirror: {len(frames)} distinct painted frames in {LIVE_SECONDS} s "
              f"({len(frames) / LIVE_SECONDS:.1f} fps as seen by the browser)")
        assert len(frames) >= 5
        assert all(src.startswith("data:image/") for src in frames)

        page.locator("#freeze").click()
        portrait = studio.wait_for_image("portrait")
        assert portrait.src.startswith("data:image/") and portrait.width == 512
        assert studio.foreign_requests() == []


def test_kiosk_countdown_keys_and_reset(browser: Browser, kiosk_server: Server, tmp_path: Path) -> None:
    with open_studio(browser, kiosk_server.url, tmp_path / "kiosk.png") as studio:
        page = studio.page
        assert page.locator("#photo button[aria-label='Upload file']").count() == 0  # webcam only
        assert page.get_by_text("Use via API").count() == 0  # no API page link
        assert not page.get_by_role("tab", name="Live mirror").is_visible()
        press_space_when_ready(page)
        page.wait_for_function("() => document.querySelector('#countdown').innerText === '3'")
        first = studio.wait_for_image("portrait")
        page.keyboard.press("Digit3")  # ink
        studio.wait_for_image("portrait", replacing=first.src)
        page.screenshot(path=tmp_path / "kiosk-portrait.png")
        # nobody touches the screen: it resets for the next visitor
        page.wait_for_function("() => !document.querySelector('#portrait img')", timeout=60_000)
        assert studio.shown("original") is None
        assert studio.foreign_requests() == []


def test_group_photo_faces_whole_photo_blend_and_download(browser: Browser, server: Server,
                                                          astronaut: Image.Image, tmp_path: Path) -> None:
    photo = tmp_path / "group.jpg"
    photo.write_bytes(jpeg_bytes(group_photo(astronaut)))
    with open_studio(browser, server.url, tmp_path / "group.png") as studio:
        page = studio.page
        studio.upload(photo)
        assert studio.wait_for_image("portrait").width == 3 * 512  # every face, side by side
        first = studio.settled("portrait")  # and then each painted after a master
        assert first.width == 3 * 512
        thumbnails = page.locator("#faces img")
        thumbnails.nth(2).wait_for()
        assert thumbnails.count() == 3
        assert page.locator("#faces").inner_text().split()[-3:] == ["1", "2", "3"]

        thumbnails.nth(2).click()  # a numbered thumbnail picks the face to paint
        studio.wait_for_image("portrait", replacing=first.src)
        picked = studio.settled("portrait")
        assert picked.width == 512
        page.locator("#all-faces").click()
        studio.wait_for_image("portrait", replacing=picked.src)
        every = studio.settled("portrait")
        assert every.width == 3 * 512 and every.src == first.src  # same photo, same style: same painting

        page.get_by_text("More").click()
        page.locator("#view").get_by_label("Whole photo", exact=True).check()
        studio.wait_for_image("portrait", replacing=every.src)
        whole = studio.settled("portrait")
        assert whole.width == 1200 and studio.shown("original").width == 1200
        page.locator("#view").get_by_label("Whole photo, all painted", exact=True).check()
        studio.wait_for_image("portrait", replacing=whole.src)
        painted = studio.settled("portrait")
        assert painted.width == 1200
        page.screenshot(path=tmp_path / "whole-photo-painted.png", full_page=True)

        page.locator("#view").get_by_label("Portrait", exact=True).check()
        portrait = studio.wait_for_image("portrait", replacing=painted.src)
        page.locator("#blend-with input").click()
        page.get_by_role("option", name="ink").click()  # oil and ink, half and half
        blended = studio.wait_for_image("portrait", replacing=portrait.src)
        assert blended.width == 3 * 512
        studio.settled("portrait")

        asked = len(studio.requested)
        with page.expect_download() as download:
            page.locator("#portrait button[aria-label='Download']").click()
        saved = tmp_path / "download.webp"
        download.value.save_as(saved)
        with Image.open(saved) as image:
            assert image.size == (3 * 512, 512)
        # the browser hands over the image it already has: nothing asked of the server
        assert [url for url in studio.requested[asked:] if not url.startswith("data:")] == []
        assert studio.foreign_requests() == []


def press_space_when_ready(page: Page) -> None:
    """Press space once the kiosk's script listens for it (it is attached after the page loads)."""
    page.wait_for_function("() => typeof window.portraitCountdown === 'function'")
    page.keyboard.press("Space")


def decoded_qr(data_url: str) -> str:
    """The text of the QR code in a PNG data URL, read by OpenCV as a phone camera would (its
    ArUco-based reader: the classic one misses ~5 % of these codes, a phone's none)."""
    png = np.frombuffer(base64.b64decode(data_url.split(",", 1)[1]), np.uint8)
    text, _, _ = cv2.QRCodeDetectorAruco().detectAndDecode(cv2.imdecode(png, cv2.IMREAD_GRAYSCALE))
    return text


def test_kiosk_take_home_link_works_once(browser: Browser, kiosk_server: Server, tmp_path: Path) -> None:
    """Beside the painting after a master, a QR code of a one-time link on the kiosk's address:
    its page can be looked at (link previews do), its download works once, as a JPEG; then the
    link is dead, and a new portrait gets a new link."""
    with open_studio(browser, kiosk_server.url, tmp_path / "take-home.png", *EXHIBITION_SCREEN) as studio:
        page = studio.page
        press_space_when_ready(page)
        studio.wait_for_label(timeout_ms=60_000)
        # One full-HD screen holds it all, in type read from a few metres (≥ 30 px on 1080 rows).
        assert page.evaluate("document.documentElement.scrollHeight") <= EXHIBITION_SCREEN[1]
        assert float(page.locator("#label p").first.evaluate("e => getComputedStyle(e).fontSize")[:-2]) >= 30
        link = decoded_qr(studio.wait_for_image("takehome").src)
        assert link.startswith(f"{KIOSK_ADDRESS}/take/") and len(link.rsplit("/", 1)[1]) >= 20, link
        keep_screenshot(page, "kiosk")
        path = kiosk_server.url + link.removeprefix(KIOSK_ADDRESS + "/")
        for _ in range(2):  # a link preview or a second look uses nothing up
            page_answer = requests.get(path, timeout=30)
            assert page_answer.status_code == 200 and "Download my portrait" in page_answer.text
        first = requests.get(path + "/portrait.jpg", timeout=30)
        assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
        assert "attachment" in first.headers["content-disposition"]
        assert first.headers["cache-control"] == "no-store"
        assert Image.open(io.BytesIO(first.content)).size == (512, 512)
        again = requests.get(path + "/portrait.jpg", timeout=30)
        assert again.status_code == 404 and "used or has expired" in again.text
        assert requests.get(path, timeout=30).status_code == 404
        assert requests.get(kiosk_server.url + "take/not-a-token/portrait.jpg", timeout=30).status_code == 404
        previous, label = studio.shown("takehome").src, page.locator("#label").inner_text()
        page.keyboard.press("Digit2")  # watercolor: a new portrait, a new link
        studio.wait_for_label(replacing=label, timeout_ms=60_000)
        assert decoded_qr(studio.wait_for_image("takehome", replacing=previous).src) != link
