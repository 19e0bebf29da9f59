"""The instant portrait on a master's plate, with the real library, MTCNN, FaceMesh and generator."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest
from PIL import Image

from portrait.align import align_face, coverage
from portrait.colour import lab_to_rgb, rgb_to_lab
from portrait.ground import push_pull
from portrait.live import LiveSession
from portrait.masters import LIGHTER, PLATED
from training import pairs
from training.metrics import IdentityModel


@pytest.fixture(scope="module")
def masters(painter):
    from portrait.masters import MasterPainter

    return MasterPainter(painter)


@pytest.fixture(scope="module")
def identity() -> IdentityModel:
    return IdentityModel()


def darkened(image: Image.Image) -> Image.Image:
    """The photo at a deep skin tone (L* × 0.55, colour × 0.8): what the generator lightened most."""
    lab = rgb_to_lab(np.asarray(image))
    lab[..., 0] *= 0.55
    lab[..., 1:] *= 0.8
    return Image.fromarray(lab_to_rgb(lab))


def off_plate(painted: np.ndarray, master) -> float:
    """How far the top-left corner of a portrait (its first 48² at 512²) is from ``master``'s plate."""
    corner = master.plate.image[:24, :24].astype(np.float32).repeat(2, 0).repeat(2, 1)
    return float(np.abs(painted[:48, :48].astype(np.float32) - corner).mean())


def test_push_pull_fills_only_the_unknown_from_around_it() -> None:
    """Known pixels stay as they are; a hole between two flat grounds is filled between their
    colours, smoothly, with nothing beyond them."""
    image = np.zeros((64, 64, 3), np.float32)
    image[:, 32:] = 200
    known = np.ones((64, 64), bool)
    known[16:48, 16:48] = False
    filled = push_pull(image, known)
    assert np.array_equal(filled[known], image[known])
    hole = filled[~known]
    assert hole.min() >= 0 and hole.max() <= 200
    assert filled[32, 18, 0] < filled[32, 32, 0] < filled[32, 46, 0]


def test_no_master_keeps_its_own_sitter_on_its_plate(masters) -> None:
    """A plate is the master without its sitter: MTCNN finds a face in every portrait of the
    library's frame, and none on its plate (a head left there put a stranger's hair and caps
    around every visitor)."""
    detector = masters.detector
    faced = [m for m in masters.masters if m.guides is not None and m.style in PLATED]
    assert len(faced) >= 25 and all(m.plate is None for m in masters.masters if m.style not in PLATED)
    for master in faced:
        assert detector(Image.fromarray(master.frame)), master.file
        left = [f for f in detector(Image.fromarray(master.plate.image)) if f.score > 0.95]
        assert not left, master.file


@pytest.mark.parametrize("style", PLATED)
def test_the_instant_portrait_keeps_the_sitter_on_the_masters_ground(painter, masters, identity,
                                                                     astronaut, style: str) -> None:
    """The astronaut, as she is and at a deep skin tone: the sitter stays herself (dlib distance,
    redetection) at her own skin tone (within 5 L* of the photo, where the generator alone
    moves it further), and beyond her the picture is the master's plate, not her photo's room."""
    for photo in (astronaut, darkened(astronaut)):
        face = painter.detector(photo)[0]
        instant = painter.portrait(photo, face, style, masters=masters)
        judged = pairs.verdict(painter.detector, identity, instant.aligned, instant.painted)
        assert judged.kept and abs(judged.skin_shift) < 5, (style, judged)
        seat = masters.seat(instant.aligned, style, coverage(instant.alignment, photo.size),
                            instant.alignment.zoom)
        study = masters.study(instant.aligned, painter.paint(instant.aligned, style), style, seat)
        assert np.array_equal(study.painted, instant.painted) and study.master.style == style
        # the photo's sky and flag there; the watercolour's paper finish moves the plate a little
        assert off_plate(instant.painted, study.master) < 12, style


def test_ink_is_the_generators_own_drawing_at_the_sitters_skin_tone(painter, masters, identity,
                                                                     astronaut) -> None:
    """Ink lost blind on a plate, so its instant portrait is the generator's own drawing, paper
    and hatching untouched, with only the sitter's skin darkened to at most :data:`LIGHTER` above
    the photo's lightness (its lit part brought down too): at a deep skin tone the generator
    alone lightened the face by 30 L*."""
    assert masters.plated == ["oil", "watercolor"] and masters.instant == ["oil", "watercolor", "ink"]
    for photo in (astronaut, darkened(astronaut)):
        face = painter.detector(photo)[0]
        toned = painter.portrait(photo, face, "ink", masters=masters)
        alone = painter.paint(toned.aligned, "ink")
        assert np.array_equal(toned.painted[:48, :48], alone[:48, :48])  # the paper beyond the sitter
        before, after = (pairs.verdict(painter.detector, identity, toned.aligned, drawn)
                         for drawn in (alone, toned.painted))
        assert -5 < after.skin_shift < LIGHTER + 2, after  # as light as life, or a little lighter
        assert photo is astronaut or before.skin_shift > 20  # what the generator alone does to dark skin


def test_blends_and_styles_not_plated(painter, masters, astronaut) -> None:
    """A blend is placed on its main style's plate; every style while the library is still being
    read is the generator's alone, exactly."""
    face = painter.detector(astronaut)[0]
    alone = painter.portrait(astronaut, face, "oil")
    assert np.array_equal(alone.painted, painter.paint(alone.aligned, "oil"))
    blended = painter.portrait(astronaut, face, {"watercolor": 0.7, "ink": 0.3}, masters=masters)
    chosen = masters.seat(blended.aligned, "watercolor", zoom=blended.alignment.zoom).master
    assert off_plate(blended.painted, chosen) < 12


def test_the_live_mirror_paints_on_one_masters_plate_until_the_style_changes(painter, masters,
                                                                            astronaut) -> None:
    """Frames of one visitor keep one master (a ground that changed would flicker), on its plate;
    a new style takes its own, and a style not plated is on the generator's own ground."""
    session = LiveSession()
    frames = [session.step(painter, astronaut, "watercolor", masters) for _ in range(4)]
    chosen = session.master
    assert chosen is not None and chosen.style == "watercolor"
    assert all(np.array_equal(frames[0], frame) for frame in frames[1:])
    assert off_plate(np.asarray(Image.fromarray(frames[0]).resize((512, 512))), chosen) < 12
    ink = session.step(painter, astronaut, "ink", masters)  # no plate: the generator's paper
    alone = painter.paint(align_face(astronaut, session.landmarks, 256)[0], "ink")
    assert session.master is None and np.array_equal(ink[:24, :24], alone[:24, :24])
    session.step(painter, astronaut, "oil", masters)
    assert session.master.style == "oil"


def test_only_the_portrait_view_is_on_a_plate(painter, masters, astronaut) -> None:
    """Pasted back into the photo ("Whole photo" views) the plate would smudge a master's ground
    around the head: those views keep the generator's picture, as before the library was read,
    with only the sitter's skin brought back towards its own tone, in every style (the generator
    alone pales dark skin in each)."""
    import app

    ready, reading = Future(), Future()
    ready.set_result(masters)
    studio, early = app.Studio(painter, ready, None, None), app.Studio(painter, reading, None, None)
    plated, alone = (s.paint(astronaut, "oil", 0).painting for s in (studio, early))
    assert not np.array_equal(plated, alone)
    dark = darkened(astronaut)
    for view in (app.WHOLE_PHOTO, app.ALL_PAINTED):
        for style in ("oil", "watercolor", "ink"):
            toned, pale = (s.paint(dark, style, 0, view).painting for s in (studio, early))
            assert np.array_equal(toned[-64:], pale[-64:]), (view, style)  # no master's ground
            moved = np.abs(toned.astype(np.float32) - pale).max(-1) > 8
            assert moved.any() and toned[moved].mean() < pale[moved].mean() - 8, (view, style)


def test_a_new_visitor_gets_a_master_of_their_own(painter, masters, astronaut) -> None:
    """When the face has left the mirror, the next face is someone else: the master chosen for the
    last visitor's sex, age and pose is let go."""
    session = LiveSession()
    session.step(painter, astronaut, "oil", masters)
    assert session.master is not None
    empty = Image.new("RGB", astronaut.size, (128, 128, 128))
    for _ in range(3 * session.detect_every ** 2):  # the mirror waits a few detections to let go
        session.step(painter, empty, "oil", masters)
    assert session.landmarks is None and session.master is None and session.sitter is None
