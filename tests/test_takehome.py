"""The kiosk's take-home store: one download or five minutes, whichever comes first, in memory."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from portrait.takehome import CAPACITY, LIFETIME_S, TakeHome, phone_address, qr_data_url


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def portrait() -> np.ndarray:
    return np.asarray(Image.fromarray(data.astronaut()).resize((512, 512)))


def test_a_link_works_once(portrait: np.ndarray) -> None:
    store = TakeHome()
    token = store.put(portrait)
    assert store.waiting(token) and store.waiting(token)  # looking uses nothing up
    body = store.take(token)
    assert body is not None and body[:3] == b"\xff\xd8\xff"
    assert Image.open(io.BytesIO(body)).size == (512, 512)
    assert store.take(token) is None and not store.waiting(token) and len(store) == 0


def test_a_link_dies_after_five_minutes_untaken(portrait: np.ndarray) -> None:
    clock = Clock()
    store = TakeHome(clock)
    early, late = store.put(portrait), None
    clock.now += LIFETIME_S - 1
    late = store.put(portrait)
    clock.now += 1
    assert store.take(early) is None  # expired, and dropped from memory
    assert len(store) == 1 and store.take(late) is not None


def test_tokens_are_unguessable_and_the_store_is_bounded(portrait: np.ndarray) -> None:
    store = TakeHome()
    small = portrait[:64, :64].copy()
    tokens = [store.put(small) for _ in range(CAPACITY + 3)]
    assert len(set(tokens)) == len(tokens) and min(len(t) for t in tokens) >= 24
    assert len(store) == CAPACITY
    assert store.take(tokens[0]) is None and store.take(tokens[-1]) is not None  # the oldest went first
    assert store.take("") is None and store.take(tokens[-1][:-1]) is None


def test_the_qr_code_reads_back_as_the_link() -> None:
    reader = cv2.QRCodeDetectorAruco()
    for _ in range(20):  # real tokens: each makes another pattern
        link = f"http://192.0.2.10:7860/take/{TakeHome().put(np.zeros((8, 8, 3), np.uint8))}"
        url = qr_data_url(link)
        assert url.startswith("data:image/png;base64,")
        png = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
        assert reader.detectAndDecode(cv2.imdecode(png, cv2.IMREAD_GRAYSCALE))[0] == link


def test_the_phone_address() -> None:
    assert phone_address("127.0.0.1", 7860) is None  # loopback only: no phone can reach it
    assert phone_address("localhost", 7860) is None
    assert phone_address("192.0.2.10", 7860) == "http://192.0.2.10:7860"
    assert phone_address("2001:db8::5", 7860) == "http://[2001:db8::5]:7860"
    assert phone_address("::1", 7860) is None
    assert phone_address("127.0.0.1", 7860, "http://kiosk.local:80/") == "http://kiosk.local:80"
    everywhere = phone_address("0.0.0.0", 7860)
    assert everywhere is None or (everywhere.startswith("http://") and "127." not in everywhere
                                  and "169.254." not in everywhere)
