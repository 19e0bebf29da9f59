"""The page as a visitor uses it: real server, real Chromium, a fake webcam showing a real face.

API tests cannot see what only the browser does: the webcam capture button, the upload input,
how data-URL images render, what the page shows on errors, and which hosts the page contacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image
from playwright.sync_api import Browser
from skimage import data

from portrait.inputs import NOT_AN_IMAGE
from portrait.masters import MASTERS, Master, read_manifest
from tests._browser import Shown, Studio, chromium, keep_screenshot, open_studio, write_fake_webcam
from tests.conftest import Server, jpeg_bytes

#: Text that would mean a Python error leaked into the page.
TRACEBACK_MARKERS = ("Traceback", 'File "', ".py")
#: What app.py says when Paint is pressed before any photo, and when an empty photo arrives.
NO_PHOTO_YET = "Take a photo with the webcam or choose a file first."
NO_IMAGE_RECEIVED = "No image received."
#: Visitors who leave mid-painting before the one who must still be served, and how long that
#: one may wait (a few paintings after masters ahead of it, on a shared 2-core machine).
VISITORS_WHO_LEAVE = 4
NEXT_VISITOR_MS = 60_000
PHONE = (390, 844)
#: Longer than a painting after a master takes here (~1-2 s), with room for a busy machine.
LATE_PAINTING_MS = 6_000


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One Chromium for the module (starting one costs seconds); each test gets a fresh context."""
    webcam = write_fake_webcam(tmp_path_factory.mktemp("webcam") / "astronaut.y4m")
    with chromium(webcam) as browser:
        yield browser


@pytest.fixture
def studio(browser: Browser, server: Server, tmp_path: Path) -> Iterator[Studio]:
    with open_studio(browser, server.url, tmp_path / "page.png") as studio:
        yield studio


def assert_painted(shown: Shown | None) -> None:
    """A real picture is on screen: decoded (naturalWidth > 0) from a data URL, not a server file."""
    assert shown is not None and shown.width > 0, shown
    assert shown.src.startswith("data:image/"), shown.src[:80]


def test_webcam_capture_is_painted_and_restyled(studio: Studio) -> None:
    studio.capture_webcam()
    first = studio.wait_for_image("portrait")
    assert_painted(first)
    assert_painted(studio.shown("original"))

    studio.choose_style("watercolor")
    assert_painted(studio.wait_for_image("portrait", replacing=first.src))
    assert_painted(studio.shown("original"))
    assert studio.foreign_requests() == []


def test_uploaded_photo_is_painted(studio: Studio, astronaut: Image.Image, tmp_path: Path) -> None:
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(jpeg_bytes(astronaut))
    studio.upload(photo)
    assert_painted(studio.wait_for_image("portrait"))
    assert_painted(studio.shown("original"))
    assert studio.foreign_requests() == []


def test_bad_upload_shows_a_friendly_message(studio: Studio, tmp_path: Path) -> None:
    fake = tmp_path / "x.jpg"
    fake.write_text("This is a text file with an image's name.\n")
    studio.upload(fake)
    studio.wait_for_status(NOT_AN_IMAGE)
    page_text = studio.text()
    assert not [marker for marker in TRACEBACK_MARKERS if marker in page_text], page_text
    assert studio.shown("original") is None and studio.shown("portrait") is None
    assert studio.foreign_requests() == []


def test_removing_the_photo_forgets_it(studio: Studio) -> None:
    studio.capture_webcam()
    studio.wait_for_image("portrait")
    studio.remove_photo()
    # Pressing Paint now must not paint the removed photo: the server no longer holds it.
    studio.paint()
    studio.wait_for_status(NO_PHOTO_YET)
    assert studio.shown("original") is None and studio.shown("portrait") is None


def test_switching_to_upload_raises_no_warning(studio: Studio) -> None:
    studio.switch_to_upload()
    # Paint with no photo: its answer comes after any event the switch queued (one FIFO queue).
    studio.paint()
    studio.wait_for_status(NO_PHOTO_YET)
    assert NO_IMAGE_RECEIVED not in studio.text()


def test_the_portrait_is_repainted_after_a_named_master(studio: Studio) -> None:
    """The instant portrait first, then the painting after a master replaces it, labelled like a
    museum piece with the master's picture beside it; "Another master" paints after the next."""
    studio.capture_webcam()
    instant = studio.wait_for_image("portrait")
    after = studio.wait_for_image("portrait", replacing=instant.src)
    assert_painted(after)
    assert_painted(studio.wait_for_image("master"))
    first_label = studio.wait_for_label()
    studio.page.locator("#another").click()
    studio.wait_for_label(replacing=first_label)
    assert_painted(studio.wait_for_image("portrait", replacing=after.src))
    keep_screenshot(studio.page, "studio")
    assert studio.foreign_requests() == []


def test_a_visitor_who_leaves_mid_painting_never_stalls_the_next(browser: Browser, server: Server,
                                                                 tmp_path: Path) -> None:
    """Visitors who ask for another master or style and close the page while it is painted must
    not leave the painting queue stuck (Gradio's ``cancels`` did: every later visitor waited)."""
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(jpeg_bytes(Image.fromarray(data.astronaut())))
    for visit in range(VISITORS_WHO_LEAVE):
        with open_studio(browser, server.url, tmp_path / f"leaving-{visit}.png") as studio:
            studio.upload(photo)
            studio.wait_for_image("portrait")
            studio.wait_for_label()
            studio.page.locator("#another").click()
            studio.choose_style(("watercolor", "ink")[visit % 2])
    with open_studio(browser, server.url, tmp_path / "next.png") as studio:
        studio.page.set_default_timeout(NEXT_VISITOR_MS)
        studio.upload(photo)
        assert_painted(studio.wait_for_image("portrait"))
        assert ", after " in studio.wait_for_label(timeout_ms=NEXT_VISITOR_MS)


def test_the_gallery_page_on_a_phone(browser: Browser, server: Server, tmp_path: Path) -> None:
    """On a 390-px phone: nothing wider than the screen, the framed portrait nearly full width,
    the museum label readable under it, and the serif face served by the app itself."""
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(jpeg_bytes(Image.fromarray(data.astronaut())))
    with open_studio(browser, server.url, tmp_path / "phone.png", width=PHONE[0], height=PHONE[1]) as studio:
        page = studio.page
        studio.upload(photo)
        assert_painted(studio.wait_for_image("portrait"))
        label = studio.wait_for_label()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
        frame = page.locator("#portrait img").bounding_box()
        assert frame is not None and frame["width"] >= 0.7 * PHONE[0], frame
        plaque = page.locator("#label").bounding_box()
        assert plaque is not None and plaque["y"] > frame["y"] + frame["height"] and label.strip()
        assert page.evaluate("document.fonts.check('16px \"Cormorant Garamond\"')")
        assert page.evaluate("[...document.fonts].some((f) => f.family.includes('Cormorant')"
                             " && f.status === 'loaded')")
        keep_screenshot(page, "phone")
        assert studio.foreign_requests() == []


def credits(style: str) -> list[str]:
    """The museum labels the masters of ``style`` can have, from the library's manifest."""
    rows = read_manifest(MASTERS)
    return [Master.credit.fget(SimpleNamespace(**row)) for row in rows if row["style"] == style]


def test_the_last_style_asked_for_is_the_one_painted(studio: Studio, tmp_path: Path) -> None:
    """Styles clicked in quick succession: the painting after a master that stays is the last
    style's, never a slower one asked for before it, and nothing is dropped on the way."""
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(jpeg_bytes(Image.fromarray(data.astronaut())))
    studio.upload(photo)
    studio.wait_for_label()
    studio.choose_style("watercolor")
    studio.choose_style("ink")
    ink = credits("ink")
    studio.page.wait_for_function("(ink) => ink.includes(document.querySelector('#label').innerText.trim())",
                                  arg=ink)
    studio.page.wait_for_timeout(LATE_PAINTING_MS)  # a stale watercolor painting would land by now
    assert studio.page.locator("#label").inner_text().strip() in ink
