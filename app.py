"""Portrait studio: take a selfie, pick a style, see yourself painted. Nothing is kept.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--kiosk [--idle 60] [--address URL]]

Without ``--host``/``--port`` the address is Gradio's ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT``
(a Hugging Face Space sets 0.0.0.0), else 127.0.0.1:7860: this machine only.

A thin Gradio shell over :mod:`portrait`: :class:`Studio` holds the handlers (photo in, portrait
out), and the builders lay out the page: :func:`wall` (the framed portrait and its museum label),
:func:`easel` (camera, style, options), :func:`live_tab`, and :func:`wire` connects them. Photos
travel in memory: the uploaded file is read and deleted at once (it sits on tmpfs for those
milliseconds), the decoded photo lives in the visitor's session state only, and images go back
to the browser as data URLs, so Gradio never writes an output file.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import logging
import os
import re
import threading
import warnings
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# Before torch loads OpenMP: idle worker threads sleep instead of spinning. On a shared 2-vCPU
# host a spinning thread that loses its core stalls every parallel region (measured 5-10× slower
# end to end under load); an explicit OMP_WAIT_POLICY in the environment still wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from portrait.privacy import private_cache  # noqa: E402

CACHE = private_cache()  # before gradio and torch are imported: their caches go to RAM

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from fastapi import Response  # noqa: E402
from fastapi.routing import APIRoute  # noqa: E402
from gradio.events import Dependency  # noqa: E402
from PIL import Image  # noqa: E402

from portrait.composite import paste_back, photo_only  # noqa: E402
from portrait.encode import webp_data_url  # noqa: E402
from portrait.inputs import MAX_FILE_BYTES, InputError, Uploads, load_image  # noqa: E402
from portrait.live import LiveSession  # noqa: E402
from portrait.masters import Master, MasterPainter, ready_painter, thumbnail  # noqa: E402
from portrait.pipeline import Painter, chosen_faces  # noqa: E402
from portrait.styles import DESCRIPTIONS  # noqa: E402
from portrait.takehome import LIFETIME_S, TakeHome, phone_address, qr_data_url  # noqa: E402

log = logging.getLogger("portrait-studio")
# mediapipe's protobuf calls a deprecated lookup on every graph: noise in the log, nothing to act on.
warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated")

STATIC = Path(__file__).resolve().parent / "static"
PRIVACY_NOTE = ("Your photo is processed in this server's memory only and is never saved to disk; "
                "it is forgotten when you leave the page (at the latest after 15 minutes).")
#: The portrait framing; the photo with its faces painted in; the whole photo painted, faces too.
VIEWS = ("Portrait", "Whole photo", "Whole photo, all painted")
WHOLE_PHOTO, ALL_PAINTED = VIEWS[1:]
THUMBNAIL = 96
#: A painting after a master takes a second or two a face: a group larger than this is offered it
#: face by face (click a thumbnail), so one photo never holds the queue for half a minute.
MASTER_FACES = 4
NO_BLEND = "(none)"
#: One painting at a time per CPU pair; visitors beyond the queue are asked to retry.
CONCURRENCY = 1
QUEUE_SIZE = 20
SESSION_SECONDS = 900
#: A live stream holds a worker for its whole length: two at once, two minutes each (then the
#: visitor presses Record again), so nobody waits long for the mirror.
LIVE_VISITORS = 2
LIVE_SECONDS = 120
#: The inset photo shows the wall, not the blurred fill, where a tight crop had no picture.
WALL = (42, 35, 31)


def data_url(image: np.ndarray, quality: int = 90) -> dict:
    """An image payload Gradio passes to the browser untouched: no file is written."""
    return {"url": webp_data_url(image, quality), "orig_name": "portrait.webp", "mime_type": "image/webp"}


def friendly_text(error: Exception) -> str:
    """What the visitor reads: our own message for bad input, a generic one for anything else."""
    if isinstance(error, InputError):
        return f"⚠️ {error}"
    return "⚠️ Something went wrong while painting. Please try again with another photo."


def style_recipe(style: str, other: str, amount: float) -> str | dict[str, float]:
    """One style, or a blend of two through the generator's style embedding."""
    if other in (NO_BLEND, style, None) or not amount:
        return style
    return {style: 1.0 - amount, other: amount}


def side_by_side(images: list[np.ndarray]) -> np.ndarray:
    return images[0] if len(images) == 1 else np.concatenate(images, axis=1)


def first_study(style: str) -> str:
    """The label while the painting after a master is on its way: the medium, and what is coming."""
    return f"*{DESCRIPTIONS[style].split(':')[0]} — a first study; the painting after a master follows.*"


def face_thumbnails(image: Image.Image, faces: list) -> list[dict]:
    """Numbered thumbnails of each face (gallery payloads with data URLs: no file is written)."""
    items = []
    for number, face in enumerate(faces, 1):
        x1, y1, x2, y2 = face.box
        cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, 0.7 * max(x2 - x1, y2 - y1)
        crop = image.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
        thumb = np.asarray(crop.convert("RGB").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR))
        items.append({"image": data_url(thumb, quality=80), "caption": str(number)})
    return items


class Requests:
    """Each visitor's newest request number, so that work asked for earlier steps aside.

    Every request (a new photo, another style, another master, the photo removed) takes a new
    number at once, outside the queue; a painting still waiting for an older number returns
    without painting, and one that finishes late is not shown. This replaces Gradio's ``cancels``,
    which can leave a cancelled event's concurrency slot taken for good (seen with Gradio 6.31:
    "Another master" pressed while a master painting waited, then every later painting of every
    visitor waited forever: reproduced in 2 to 6 such visits, none in 26 without ``cancels``;
    ``tests/test_browser.py`` guards against it).

    The number is kept in a ``gr.State``, which a step reads when it runs: a step still waiting
    then sees the newest number, so the check that counts is the one after painting. A hidden
    component (read when the step is sent) and ``trigger_mode="multiple"`` were tried: under load
    the page then sometimes never sent the next step of a chain (reproduced), so not kept.
    """

    #: Sessions remembered at most (the oldest forgotten first): a client that never says goodbye
    #: must not grow this for ever.
    SESSIONS = 10_000

    def __init__(self) -> None:
        self._numbers = itertools.count(1)  # one sequence for all: a number never comes back
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._cleared: dict[str, int] = {}
        self._lock = threading.Lock()

    def new(self, request: gr.Request, clears: bool = False) -> int:
        """A new number for the visitor's newest request; ``clears``: it removes the photo."""
        with self._lock:
            number = next(self._numbers)
            self._latest[request.session_hash] = number
            self._latest.move_to_end(request.session_hash)
            if clears:
                self._cleared[request.session_hash] = number
            while len(self._latest) > self.SESSIONS:
                session, _ = self._latest.popitem(last=False)
                self._cleared.pop(session, None)
        return number

    def current(self, request: gr.Request, number: float | None) -> bool:
        with self._lock:
            return number is not None and self._latest.get(request.session_hash) == number

    def cleared_since(self, request: gr.Request, number: float | None) -> bool:
        """Whether the visitor removed their photo after request ``number``."""
        with self._lock:
            return self._cleared.get(request.session_hash, 0) > (number or 0)

    def forget(self, request: gr.Request) -> None:
        with self._lock:
            self._latest.pop(request.session_hash, None)
            self._cleared.pop(request.session_hash, None)


@dataclass
class Painted:
    """What one request produced: the view's photo and painting, and what the label needs."""

    photo: np.ndarray
    painting: np.ndarray
    note: str
    faces: list
    image: Image.Image
    used: list[Master]


class Studio:
    """The page's handlers: photos in, portraits and messages out. No layout here."""

    def __init__(self, painter: Painter, masters: Future[MasterPainter], take_home: TakeHome | None,
                 link_base: str | None) -> None:
        self.painter, self.masters = painter, masters
        self.take_home, self.link_base = take_home, link_base
        self.uploads = Uploads(remember=QUEUE_SIZE)  # identical uploads share one path: see Uploads
        self.requests = Requests()

    def paint(self, image: Image.Image | None, style: str, which: int | None, view: str = VIEWS[0],
              other: str = NO_BLEND, amount: float = 0.0, strength: float = 1.0,
              rank: int | None = None) -> Painted:
        """Paint the photo's chosen faces: with the generator, or after a master when ``rank``
        (0: the best-suited master, 1: the next…) is given; then compose the chosen view."""
        if image is None:
            raise InputError("Take a photo with the webcam or choose a file first.")
        image, faces = self.painter.upright_faces(image)
        recipe = style_recipe(style, other, amount)
        chosen = chosen_faces(faces, which)
        if rank is None:
            # on a master's plate in the portrait view only: pasted back into the photo, the plate
            # would smudge a master's ground around each head (ink's skin tone is kept in every view)
            plates = view not in (WHOLE_PHOTO, ALL_PAINTED)
            library = self.ready_masters() if len(chosen) <= MASTER_FACES else None
            pairs = [self.painter.portrait(image, f, recipe, strength, library, plates) for f in chosen]
            used = []
        elif len(chosen) > MASTER_FACES:
            raise InputError(f"{len(chosen)} faces: click one to have it painted after a master.")
        else:
            library = self.masters.result()  # ready within seconds of start-up
            pairs, used = map(list, zip(*(self.painter.after_master(library, image, f, style, rank, strength)
                                          for f in chosen), strict=True))
        note = (f"{len(faces)} faces found: click a face to paint only that one, or paint every face."
                if len(faces) > 1 else "")
        if view in (WHOLE_PHOTO, ALL_PAINTED):
            photo, background = np.asarray(image), image
            if view == ALL_PAINTED:  # the scene painted too, the faces from their portraits
                scene = self.painter.paint_frame(image, recipe, strength)
                background = Image.fromarray(scene).resize(image.size, Image.Resampling.BILINEAR)
            painting = paste_back(background, [(p.painted, p.alignment) for p in pairs])
        else:
            photo = side_by_side([photo_only(p.aligned, p.alignment, image.size, WALL) for p in pairs])
            painting = side_by_side([p.painted for p in pairs])
        return Painted(photo, painting, note, faces, image, used)

    def ready_masters(self) -> MasterPainter | None:
        """The master painter once its library is read (seconds after start-up); until then the
        instant portraits are the generator's alone, not a wait."""
        return self.masters.result() if self.masters.done() and not self.masters.exception() else None

    @staticmethod
    def failed(error: Exception) -> str:
        """Log the kind of failure only (messages can quote file names; the log keeps no image
        data, names or client addresses), toast it, and return the status line."""
        message = friendly_text(error).removeprefix("⚠️ ")
        if not isinstance(error, InputError):
            log.error("painting failed: %s", type(error).__name__)
        gr.Warning(message)
        return f"⚠️ {message}"

    def nothing_painted(self, error: Exception) -> tuple:
        """A new photo's outputs after ``error``, the state aside: no pictures, no faces, the message."""
        return None, None, "", gr.update(visible=False), gr.update(value=[]), None, self.failed(error)

    # Outputs of a new photo: state, inset, portrait, label, thumbnails group, thumbnails, face, status.
    def new_photo(self, image: Image.Image | None, style: str, *options) -> tuple:
        """Paint every face of a new photo; offer numbered thumbnails to pick one when there are more."""
        try:
            done = self.paint(image, style, None, *options)
        except Exception as error:  # noqa: BLE001 — every failure becomes a message
            return image, *self.nothing_painted(error)
        offered = len(done.faces) > 1
        return (done.image, data_url(done.photo), data_url(done.painting), first_study(style),
                gr.update(visible=offered),
                gr.update(value=face_thumbnails(done.image, done.faces) if offered else [],
                          selected_index=None),
                None, done.note)

    def receive(self, payload: dict | None, style: str, view: str, other: str, amount: float,
                strength: float, ticket: int, request: gr.Request) -> tuple:
        """A new photo arrived: read it into memory and delete the upload (always, even when a
        newer photo makes this one moot), then paint it."""
        try:
            image = self.uploads.read((payload or {}).get("path"))
        except Exception as error:  # noqa: BLE001 — every failure becomes a message
            image = error
        if not self.requests.current(request, ticket):  # a newer request paints it, unless removed
            removed = isinstance(image, Exception) or self.requests.cleared_since(request, ticket)
            kept = None if removed else image
            return (kept, *(gr.update(),) * 5, None, gr.update())
        if isinstance(image, Exception):
            return None, *self.nothing_painted(image)
        return self.new_photo(image, style, view, other, amount, strength)

    def repaint(self, image: Image.Image | None, style: str, which: int | None, view: str, other: str,
                amount: float, strength: float, ticket: int, request: gr.Request) -> tuple:
        """Inset, portrait, label and status for a new style, view, blend or face."""
        if not self.requests.current(request, ticket):
            return (gr.update(),) * 4
        try:
            done = self.paint(image, style, which, view, other, amount, strength)
        except Exception as error:  # noqa: BLE001 — every failure becomes a message
            return None, None, "", self.failed(error)
        return data_url(done.photo), data_url(done.painting), first_study(style), done.note

    def after_master(self, image: Image.Image | None, style: str, which: int | None, view: str, other: str,
                     amount: float, strength: float, ticket: int, rank: int, request: gr.Request) -> tuple:
        """Repaint the instant portrait after a real master. Outputs: portrait, museum label, the
        master's picture, the "Another master" button, the rank (kept for that button), and the
        take-home panel and its QR code (kiosk only)."""
        skip = (gr.update(),) * 7
        if image is None or not self.requests.current(request, ticket):
            return skip
        hidden, painting = gr.update(visible=False), None
        try:
            done = self.paint(image, style, which, view, other, amount, strength, rank)
            painting = done.painting
            label = "  \n".join(dict.fromkeys(master.credit for master in done.used))
            shown = (data_url(done.painting), f"*{label}*",
                     gr.update(value=data_url(thumbnail(done.used[0]), quality=85), visible=True),
                     gr.update(visible=True), rank)
        except InputError as error:  # the instant portrait stays, and the label says why
            shown = gr.update(), str(error), hidden, hidden, rank
        except Exception as error:  # noqa: BLE001 — the instant portrait stays
            log.error("master painting failed: %s", type(error).__name__)
            shown = gr.update(), "", hidden, hidden, rank
        if not self.requests.current(request, ticket):  # a newer request came while painting
            return skip
        if painting is None:
            return (*shown, hidden, gr.update())
        return (*shown, *self.offer_take_home(painting))

    def first_master(self, image: Image.Image | None, style: str, which: int | None, view: str, other: str,
                     amount: float, strength: float, ticket: int, request: gr.Request) -> tuple:
        return self.after_master(image, style, which, view, other, amount, strength, ticket, 0, request)

    def next_master(self, image: Image.Image | None, style: str, which: int | None, view: str, other: str,
                    amount: float, strength: float, ticket: int, rank: int, request: gr.Request) -> tuple:
        return self.after_master(image, style, which, view, other, amount, strength, ticket, rank + 1,
                                 request)

    def offer_take_home(self, painting: np.ndarray) -> tuple:
        """The take-home panel shown, with the QR code of a one-time link to ``painting`` (kiosk only)."""
        if self.take_home is None or self.link_base is None:
            return gr.update(visible=False), gr.update()
        try:
            link = f"{self.link_base}/take/{self.take_home.put(painting)}"
            code = {"url": qr_data_url(link), "orig_name": "take-home.png", "mime_type": "image/png"}
        except Exception as error:  # noqa: BLE001 — the painting is shown all the same
            log.error("take-home link failed: %s", type(error).__name__)
            return gr.update(visible=False), gr.update()
        return gr.update(visible=True), code

    def clear(self, request: gr.Request) -> tuple:
        """The visitor removed the photo: forget it and everything painted from it."""
        hidden = gr.update(visible=False)
        return (self.requests.new(request, clears=True), None, None, None, "", hidden, gr.update(value=[]),
                None, "", gr.update(value=None, visible=False), hidden, hidden)

    def preview(self, image: Image.Image | None, ticket: int, request: gr.Request):
        """Show the photo from memory: its uploaded file is already deleted."""
        if image is None or not self.requests.current(request, ticket):
            return gr.update()
        return data_url(np.asarray(image))

    def paint_api(self, payload: dict | None, style: str) -> tuple:
        """For API clients: a photo in; the framed photo, the instant portrait, the faces'
        thumbnails and a status line out (the page reaches the same painter through the chain)."""
        try:
            done = self.paint(self.uploads.read((payload or {}).get("path")), style, None)
        except Exception as error:  # noqa: BLE001 — every failure becomes a message
            if not isinstance(error, InputError):
                log.error("painting failed: %s", type(error).__name__)
            return None, None, [], friendly_text(error)
        offered = face_thumbnails(done.image, done.faces) if len(done.faces) > 1 else []
        return data_url(done.photo), data_url(done.painting), offered, done.note

    def master_api(self, payload: dict | None, style: str) -> tuple:
        """For API clients: a photo in, its portrait after the best-suited master and the
        museum label out."""
        try:
            done = self.paint(self.uploads.read((payload or {}).get("path")), style, 0, rank=0)
        except Exception as error:  # noqa: BLE001 — every failure becomes a message
            return None, friendly_text(error)
        return data_url(done.painting), done.used[0].credit

    def live_step(self, payload: dict | None, style: str, session: LiveSession | None):
        """One streamed frame (a data URL, decoded in memory) → its painted version."""
        session = session or LiveSession()
        try:
            frame = load_image(base64.b64decode((payload or {}).get("url", ",").split(",", 1)[1]))
            painted = session.step(self.painter, frame, style, self.ready_masters())
        except Exception as error:  # noqa: BLE001 — a bad frame must not end the stream
            if not isinstance(error, InputError):
                log.error("live frame failed: %s", type(error).__name__)
            return gr.update(), session
        return (data_url(painted, quality=75) if painted is not None else gr.update()), session

    def freeze(self, session: LiveSession | None, style: str, view: str, other: str, amount: float,
               strength: float, ticket: int, request: gr.Request) -> tuple:
        """Paint the last live frame at full size in the studio tab, shown as the new photo."""
        image = session.frame if session else None
        if not self.requests.current(request, ticket):
            return (gr.update(),) * 10
        return (*self.new_photo(image, style, view, other, amount, strength), gr.update(selected="studio"),
                data_url(np.asarray(image)) if image is not None else None)


@dataclass
class Wall:
    """The framed portrait and what hangs with it: the museum label, the master, the photo inset."""

    portrait: gr.Image
    label: gr.Markdown
    master: gr.Image
    another: gr.Button
    original: gr.Image


def wall() -> Wall:
    # No share button: sharing would upload the image to a third party.
    portrait = gr.Image(show_label=False, interactive=False, elem_id="portrait", format="webp",
                        buttons=["download", "fullscreen"])
    with gr.Row(elem_id="plaque", equal_height=False):
        master = gr.Image(label="After", interactive=False, height=150, elem_id="master", visible=False,
                          buttons=[], show_label=False)
        with gr.Column(scale=3, min_width=200):
            label = gr.Markdown("", elem_id="label")
            another = gr.Button("Another master", elem_id="another", visible=False, size="sm")
        original = gr.Image(label="Your photo, framed", interactive=False, elem_id="original", format="webp",
                            height=150, buttons=[])
    return Wall(portrait, label, master, another, original)


@dataclass
class TakeHomePanel:
    """The kiosk's QR code of a one-time link to the portrait, with how it works."""

    box: gr.Column
    code: gr.Image


def take_home_panel() -> TakeHomePanel:
    with gr.Column(visible=False, elem_id="takehome-panel") as box:
        gr.Markdown(f"**Take it home:** scan with your phone. The link works once, within "
                    f"{round(LIFETIME_S / 60)} minutes; the picture waits in this kiosk's memory only.",
                    elem_id="takehome-note")
        code = gr.Image(show_label=False, interactive=False, elem_id="takehome", buttons=[], height="17vh")
    return TakeHomePanel(box, code)


@dataclass
class Easel:
    """Where the visitor works: the camera, the style, the faces of a group, the options."""

    camera: gr.Image
    style: gr.Radio
    style_buttons: list[gr.Button]
    take: gr.Button
    group_box: gr.Group
    thumbnails: gr.Gallery
    every_face: gr.Button
    view: gr.Radio
    blend_with: gr.Dropdown
    blend: gr.Slider
    strength: gr.Slider
    paint: gr.Button
    status: gr.Markdown

    @property
    def options(self) -> list:
        return [self.view, self.blend_with, self.blend, self.strength]


def easel(styles: list[str], kiosk: bool) -> Easel:
    camera = gr.Image(sources=["webcam"] if kiosk else ["webcam", "upload"], type="filepath",
                      label="Your photo", webcam_options=gr.WebcamOptions(mirror=True), elem_id="photo",
                      height="31vh" if kiosk else None)  # a kiosk's screen holds it all at once
    style = gr.Radio(styles, value=styles[0], label="Style", elem_id="style", info=DESCRIPTIONS[styles[0]],
                     visible=not kiosk)
    with gr.Row(visible=kiosk):
        style_buttons = [gr.Button(f"{i + 1} · {name.capitalize()}", size="lg", elem_classes="kiosk-style")
                         for i, name in enumerate(styles)]
    take = gr.Button("Take my portrait (space)", variant="primary", size="lg", elem_id="take", visible=kiosk)
    with gr.Group(visible=False) as group_box:
        thumbnails = gr.Gallery(label="Faces: click one to paint it", columns=5, height=150,
                                allow_preview=False, elem_id="faces", object_fit="cover", buttons=[])
        every_face = gr.Button("Paint every face", elem_id="all-faces", size="sm")
    with gr.Accordion("More", open=False, visible=not kiosk):
        view = gr.Radio(VIEWS, value=VIEWS[0], label="Show", elem_id="view")
        blend_with = gr.Dropdown([NO_BLEND, *styles], value=NO_BLEND, label="Blend with",
                                 elem_id="blend-with")
        blend = gr.Slider(0, 1, value=0.5, step=0.05, label="Blend", elem_id="blend")
        strength = gr.Slider(0, 1, value=1, step=0.05, elem_id="strength",
                             label="Strength (photo ↔ painting)")
    paint = gr.Button("Paint", variant="primary", elem_id="paint", visible=not kiosk)
    status = gr.Markdown("", elem_id="status")
    return Easel(camera, style, style_buttons, take, group_box, thumbnails, every_face, view, blend_with,
                 blend, strength, paint, status)


@dataclass
class Live:
    camera: gr.Image
    portrait: gr.Image
    style: gr.Radio
    freeze: gr.Button
    session: gr.State


def live_tab(styles: list[str]) -> Live:
    gr.Markdown("Your webcam, painted live. Freeze a frame to paint it at full size.")
    with gr.Row():
        camera = gr.Image(sources=["webcam"], streaming=True, label="Camera",
                          webcam_options=gr.WebcamOptions(mirror=True), elem_id="live-camera")
        portrait = gr.Image(label="Live portrait", interactive=False, elem_id="live-portrait",
                            buttons=["fullscreen"])
    style = gr.Radio(styles, value=styles[0], label="Style", elem_id="live-style")
    freeze = gr.Button("Freeze this frame", variant="primary", elem_id="freeze")
    return Live(camera, portrait, style, freeze, gr.State(None, time_to_live=SESSION_SECONDS))


def wire(studio: Studio, art: Wall, desk: Easel, take_home: TakeHomePanel, live: Live, tabs: gr.Tabs,
         kiosk: bool) -> None:
    """Connect the builders' components to the studio's handlers.

    Every request first takes a new number outside the queue (see :class:`Requests`), then the
    instant portrait is painted, then the painting after a master replaces it (~1-2 s later, its
    progress shown on the label, not over the portrait the visitor is looking at).
    """
    photo, face, ticket, rank = (gr.State(None, time_to_live=SESSION_SECONDS), gr.State(None), gr.State(0),
                                 gr.State(0))
    quiet = dict(queue=False, api_visibility="private")
    queued = dict(concurrency_limit=CONCURRENCY, concurrency_id="paint", api_visibility="private",
                  postprocess=False)
    instant = dict(show_progress="minimal", **queued)
    later = dict(show_progress="full", show_progress_on=[art.label], **queued)
    hidden = gr.update(visible=False)
    master_inputs = [photo, desk.style, face, *desk.options, ticket]
    master_outputs = [art.portrait, art.label, art.master, art.another, rank, take_home.box, take_home.code]
    new_outputs = [photo, art.original, art.portrait, art.label, desk.group_box, desk.thumbnails, face,
                   desk.status]
    repaint_inputs = [photo, desk.style, face, *desk.options, ticket]
    repaint_outputs = [art.original, art.portrait, art.label, desk.status]

    def new_request(request: gr.Request) -> tuple:
        """A new number for this visitor; the previous portrait's take-home code goes."""
        return studio.requests.new(request), hidden

    def pick_face(selected: gr.SelectData, request: gr.Request) -> tuple:
        return (selected.index, *new_request(request))

    def every_face(request: gr.Request) -> tuple:
        return (None, *new_request(request))

    def painted_then_master(head: Dependency, handler, inputs: list, outputs: list, **extra) -> Dependency:
        painted = head.then(handler, inputs, outputs, **instant, **extra)
        painted.then(studio.first_master, master_inputs, master_outputs, **later)
        return painted

    numbered = [ticket, take_home.box]
    # upload, not input: input also fires with no photo when the source is switched or the photo
    # removed, and receive() would greet that with a "No image received" warning.
    received = painted_then_master(desk.camera.upload(new_request, None, numbered, **quiet), studio.receive,
                                   [desk.camera, desk.style, *desk.options, ticket], new_outputs,
                                   preprocess=False)
    received.then(studio.preview, [photo, ticket], desk.camera, postprocess=False, **quiet)
    for trigger in (desk.paint.click, desk.style.change, desk.view.change, desk.blend_with.change,
                    desk.blend.release, desk.strength.release):
        painted_then_master(trigger(new_request, None, numbered, **quiet), studio.repaint, repaint_inputs,
                            repaint_outputs)
    painted_then_master(desk.thumbnails.select(pick_face, None, [face, *numbered], **quiet), studio.repaint,
                        repaint_inputs, repaint_outputs)
    painted_then_master(desk.every_face.click(every_face, None, [face, *numbered], **quiet), studio.repaint,
                        repaint_inputs, repaint_outputs)
    another = art.another.click(new_request, None, numbered, **quiet)
    another.then(studio.next_master, [*master_inputs, rank], master_outputs, **later)
    # Removing the photo never waits in the painting queue; its new number retires what is pending.
    desk.camera.clear(studio.clear, None, [ticket, *new_outputs, art.master, art.another, take_home.box],
                      **quiet)

    live.camera.stream(studio.live_step, [live.camera, live.style, live.session],
                       [live.portrait, live.session],
                       preprocess=False, postprocess=False, stream_every=0.1, time_limit=LIVE_SECONDS,
                       concurrency_limit=LIVE_VISITORS, concurrency_id="live", api_visibility="private")
    painted_then_master(live.freeze.click(new_request, None, numbered, **quiet), studio.freeze,
                        [live.session, live.style, *desk.options, ticket], [*new_outputs, tabs, desk.camera])
    desk.take.click(None, js="() => window.portraitCountdown && window.portraitCountdown()")
    for button, name in zip(desk.style_buttons, studio.painter.styles, strict=True):
        button.click(lambda name=name: name, None, desk.style, **quiet)
    desk.style.change(lambda name: gr.update(info=DESCRIPTIONS[name]), desk.style, desk.style, **quiet)

    # The public API (private on a kiosk), through components the page never shows.
    api = dict(preprocess=False, postprocess=False, concurrency_limit=CONCURRENCY, concurrency_id="paint",
               api_visibility="private" if kiosk else "public")
    api_photo = gr.Image(type="filepath", visible=False, sources=["upload"])
    api_images = [gr.Image(visible=False) for _ in range(3)]
    api_faces, api_text = gr.Gallery(visible=False), [gr.Markdown(visible=False) for _ in range(2)]
    gr.Button(visible=False).click(studio.paint_api, [api_photo, desk.style],
                                   [api_images[0], api_images[1], api_faces, api_text[0]], api_name="paint",
                                   **api)
    gr.Button(visible=False).click(studio.master_api, [api_photo, desk.style], [api_images[2], api_text[1]],
                                   api_name="paint_after_master", **api)


def build(painter: Painter, masters: Future[MasterPainter], kiosk: bool = False,
          take_home: TakeHome | None = None, link_base: str | None = None) -> gr.Blocks:
    """The page: a portrait on a gallery wall, the easel beside it, the live mirror in a tab."""
    studio = Studio(painter, masters, take_home, link_base)
    styles = painter.styles
    # delete_cache is the backstop: uploads are deleted as soon as they are read (see receive).
    with gr.Blocks(title="Portrait studio", delete_cache=(60, 60)) as demo:
        gr.Markdown("# Portrait studio\nTake a selfie or upload a photo, pick a style, and see "
                    "yourself repainted as a classical portrait.", elem_id="masthead")
        gr.Markdown(f"🔒 {PRIVACY_NOTE}", elem_id="privacy-note")
        with gr.Tabs(selected="studio", elem_id="tabs") as tabs:
            with gr.Tab("Studio", id="studio"), gr.Row(equal_height=False):
                # The kiosk hangs the portrait first; a phone or desk visitor starts at the camera.
                with gr.Column(scale=3 if kiosk else 2, min_width=320, elem_id="wall" if kiosk else "easel"):
                    first = wall() if kiosk else easel(styles, kiosk)
                with gr.Column(scale=2 if kiosk else 3, min_width=320, elem_id="easel" if kiosk else "wall"):
                    second = easel(styles, kiosk) if kiosk else wall()
                    panel = take_home_panel()  # beside the camera on a kiosk; never shown elsewhere
            with gr.Tab("Live mirror", id="live", visible=not kiosk):
                live = live_tab(styles)
        art, desk = (first, second) if kiosk else (second, first)
        wire(studio, art, desk, panel, live, tabs, kiosk)
        demo.unload(studio.requests.forget)
    return demo


def gallery_css(kiosk: bool) -> str:
    """The page's stylesheet, its fonts inlined as data URLs: nothing is fetched from elsewhere."""
    css = (STATIC / "gallery.css").read_text() + ((STATIC / "kiosk.css").read_text() if kiosk else "")

    def inline(match: re.Match) -> str:
        font = base64.b64encode((STATIC / "fonts" / match[1]).read_bytes()).decode("ascii")
        return f"url(data:font/woff2;base64,{font})"

    return re.sub(r"url\(([\w.-]+\.woff2)\)", inline, css)


def gallery_theme() -> gr.themes.Theme:
    """Gradio's controls in the wall's colours, the same in light and dark mode."""
    colours = {
        "body_background_fill": "#2a231f", "background_fill_primary": "#332b26",
        "background_fill_secondary": "#3a312b", "block_background_fill": "#332b26",
        "block_border_color": "#4a3f37", "border_color_primary": "#4a3f37",
        "body_text_color": "#efe6d8", "body_text_color_subdued": "#bfb2a0",
        "block_label_background_fill": "#3a312b", "block_label_text_color": "#d9ccb8",
        "block_title_text_color": "#efe6d8", "block_info_text_color": "#bfb2a0",
        "input_background_fill": "#2a231f", "color_accent": "#c29a5b", "color_accent_soft": "#4a3c2c",
        "button_primary_background_fill": "#b8894a", "button_primary_background_fill_hover": "#c99b5c",
        "button_primary_text_color": "#1d1714", "button_secondary_background_fill": "#4a3f37",
        "button_secondary_background_fill_hover": "#5a4c42", "button_secondary_text_color": "#efe6d8",
        "checkbox_label_background_fill": "#3a312b", "checkbox_label_background_fill_selected": "#4a3c2c",
        "checkbox_label_text_color": "#efe6d8", "checkbox_label_text_color_selected": "#f3ecdf",
        "slider_color": "#c29a5b", "loader_color": "#c29a5b",
    }
    theme = gr.themes.Base()
    dark = {f"{name}_dark": value for name, value in colours.items() if hasattr(theme, f"{name}_dark")}
    return theme.set(**colours, **dark)


TAKE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>Your portrait</title></head>
<body style="margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;
justify-content:center;background:#2a231f;color:#f3ecdf;font:1.2rem Georgia,serif;text-align:center;
padding:1rem">
<p>{message}</p>{button}</body></html>"""
DOWNLOAD_BUTTON = ('<a href="{token}/portrait.jpg" download="my-portrait.jpg" style="display:inline-block;'
                   'padding:.9rem 1.6rem;background:#b8894a;color:#1d1714;text-decoration:none;'
                   'border-radius:6px;font-weight:bold">Download my portrait</a>')
#: Nothing of these answers is cached, sniffed into another type, or names the kiosk to others.
QUIET_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "no-referrer"}


def take_routes(take_home: TakeHome) -> list[APIRoute]:
    """``GET /take/<token>``: a small page whose button downloads the portrait; looking at it (or a
    link preview fetching it) uses nothing up. ``GET /take/<token>/portrait.jpg``: the portrait,
    once; afterwards both say the link was used or has expired."""
    gone = (f"This take-home link has been used or has expired: links work once, within "
            f"{round(LIFETIME_S / 60)} minutes.")

    def page(token: str) -> Response:
        if not take_home.waiting(token):
            return Response(TAKE_PAGE.format(message=gone, button=""), 404, QUIET_HEADERS, "text/html")
        button = DOWNLOAD_BUTTON.format(token=token)
        return Response(TAKE_PAGE.format(message="Your portrait from the studio, once:", button=button), 200,
                        QUIET_HEADERS, "text/html")

    def portrait(token: str) -> Response:
        body = take_home.take(token)
        if body is None:
            return Response(gone + "\n", 404, QUIET_HEADERS, "text/plain")
        download = {**QUIET_HEADERS, "Content-Disposition": 'attachment; filename="my-portrait.jpg"'}
        return Response(body, 200, download, "image/jpeg")

    return [APIRoute("/take/{token}", page, methods=["GET"], include_in_schema=False),
            APIRoute("/take/{token}/portrait.jpg", portrait, methods=["GET"], include_in_schema=False)]


def load_masters(painter: Painter) -> MasterPainter:
    """The master painter, its library prepared and its kernels compiled."""
    masters = ready_painter(painter)
    log.info("master painter ready: %d masters", len(masters.masters))
    return masters


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Portrait studio: your selfie as a classical portrait.")
    # Gradio's own variables, read here rather than left to launch(): the loopback default is
    # this app's privacy promise, whatever a future Gradio defaults to.
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (default: $GRADIO_SERVER_NAME, else 127.0.0.1: "
                             "this machine only)")
    parser.add_argument("--port", type=int, default=os.environ.get("GRADIO_SERVER_PORT", "7860"),
                        help="port to listen on (default: $GRADIO_SERVER_PORT, else 7860)")
    parser.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    parser.add_argument("--kiosk", action="store_true",
                        help="unattended exhibition screen: webcam only, big type, countdown, auto reset, "
                             "take-home QR codes")
    parser.add_argument("--idle", type=int, default=60,
                        help="kiosk: seconds without input before the screen resets for the next visitor")
    parser.add_argument("--address", default=None,
                        help="kiosk: the URL visitors' phones reach this server at, for the take-home "
                             "QR code (default: the listening address; none on loopback)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no request lines in the log
    from portrait.privacy import sweep_stranded, upload_budget

    # Before the models load: a RAM disk too small for even a short queue refuses at once.
    budget = upload_budget(CACHE, MAX_FILE_BYTES, QUEUE_SIZE, CONCURRENCY)
    sweep_stranded(Path(os.environ["GRADIO_TEMP_DIR"]))
    painter = Painter()
    # The library's guides and the synthesis kernels take a few seconds: made beside the server's
    # start, so the instant portrait is served at once and the first master painting waits at most that.
    masters = ThreadPoolExecutor(1, thread_name_prefix="masters").submit(load_masters, painter)
    log.info("portrait studio ready: styles %s, cache in RAM at %s", ", ".join(painter.styles), CACHE)
    take_home = TakeHome() if args.kiosk else None
    base = phone_address(args.host, args.port, args.address) if args.kiosk else None
    if args.kiosk:
        log.info("take-home links: %s", "on the local network" if base else
                 "off (listening on loopback only; use --host 0.0.0.0 or --address)")
    demo = build(painter, masters, kiosk=args.kiosk, take_home=take_home, link_base=base)
    demo.queue(max_size=budget.waiting, default_concurrency_limit=CONCURRENCY)
    kiosk = {"js": (STATIC / "kiosk.js").read_text().replace("__IDLE__", str(args.idle)),
             "footer_links": []} if args.kiosk else {}
    demo.launch(server_name=args.host, server_port=args.port, share=args.share and not args.kiosk,
                max_file_size=budget.largest, show_error=False, run_history=False,
                css=gallery_css(args.kiosk), theme=gallery_theme(), prevent_thread_lock=True, **kiosk)
    if take_home is not None:  # first in line, before any of Gradio's own routes
        demo.app.router.routes[:0] = take_routes(take_home)
    demo.block_thread()


if __name__ == "__main__":
    main()
