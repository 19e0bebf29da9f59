"""Portrait studio: take a selfie, pick a style, see yourself painted. Nothing is kept.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--kiosk [--idle 60]]

Without ``--host``/``--port`` the address is Gradio's ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT``
(a Hugging Face Space sets 0.0.0.0), else 127.0.0.1:7860: this machine only.

A thin Gradio shell over :mod:`portrait`. Photos travel in memory: the uploaded file is read
and deleted at once (it sits on tmpfs for those milliseconds), the decoded photo lives in the
visitor's session state only, and images go back to the browser as data URLs, so Gradio never
writes an output file.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor

# Before torch loads OpenMP: idle worker threads sleep instead of spinning. On a shared 2-vCPU
# host a spinning thread that loses its core stalls every parallel region (measured 5-10× slower
# end to end under load); an explicit OMP_WAIT_POLICY in the environment still wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from portrait.privacy import private_cache  # noqa: E402

CACHE = private_cache()  # before gradio and torch are imported: their caches go to RAM

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from portrait.composite import paste_back  # noqa: E402
from portrait.encode import webp_data_url  # noqa: E402
from portrait.inputs import MAX_FILE_BYTES, InputError, Uploads, load_image  # noqa: E402
from portrait.live import LiveSession  # noqa: E402
from portrait.masters import MasterPainter, thumbnail, warm_up  # noqa: E402
from portrait.pipeline import Painter, chosen_faces  # noqa: E402
from portrait.styles import DESCRIPTIONS  # noqa: E402

log = logging.getLogger("portrait-studio")

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


def no_faces_offered() -> tuple:
    """Updates for (thumbnail group, thumbnails, chosen face): nothing to pick, every face painted."""
    return gr.update(visible=False), gr.update(value=[]), None


def build(painter: Painter, masters: Future[MasterPainter], kiosk: bool = False) -> gr.Blocks:
    """The page: webcam/upload on the left, the photo as framed and its portrait on the right."""
    styles = painter.styles
    uploads = Uploads(remember=QUEUE_SIZE)  # identical uploads share one path: see Uploads
    # delete_cache is the backstop: uploads are deleted as soon as they are read (see receive).
    with gr.Blocks(title="Portrait studio", delete_cache=(60, 60)) as demo:
        photo_state = gr.State(None, time_to_live=SESSION_SECONDS)
        gr.Markdown("# Portrait studio\nTake a selfie or upload a photo, pick a style, and see "
                    "yourself repainted as a classical portrait.")
        gr.Markdown(f"🔒 {PRIVACY_NOTE}", elem_id="privacy-note")
        with gr.Tabs(selected="studio") as tabs:
            with gr.Tab("Studio", id="studio"):
                with gr.Row():
                    with gr.Column(scale=1):
                        camera = gr.Image(sources=["webcam"] if kiosk else ["webcam", "upload"],
                                          type="filepath", label="Your photo",
                                          webcam_options=gr.WebcamOptions(mirror=True), elem_id="photo")
                        style = gr.Radio(styles, value=styles[0], label="Style", elem_id="style",
                                         info=DESCRIPTIONS[styles[0]], visible=not kiosk)
                        with gr.Row(visible=kiosk):
                            style_buttons = [gr.Button(f"{i + 1} · {name.capitalize()}", size="lg",
                                                       elem_classes="kiosk-style")
                                             for i, name in enumerate(styles)]
                        take = gr.Button("Take my portrait (space)", variant="primary", size="lg",
                                         elem_id="take", visible=kiosk)
                        with gr.Group(visible=False) as group_box:
                            thumbnails = gr.Gallery(label="Faces: click one to paint it", columns=5,
                                                    height=150, allow_preview=False, elem_id="faces",
                                                    object_fit="cover", buttons=[])
                            every_face = gr.Button("Paint every face", elem_id="all-faces", size="sm")
                        face = gr.State(None)  # the face a thumbnail picked; None: every face
                        with gr.Accordion("More", open=False, visible=not kiosk):
                            view = gr.Radio(VIEWS, value=VIEWS[0], label="Show", elem_id="view")
                            blend_with = gr.Dropdown([NO_BLEND, *styles], value=NO_BLEND,
                                                     label="Blend with", elem_id="blend-with")
                            blend = gr.Slider(0, 1, value=0.5, step=0.05, label="Blend", elem_id="blend")
                            strength = gr.Slider(0, 1, value=1, step=0.05, elem_id="strength",
                                                 label="Strength (photo ↔ painting)")
                        paint = gr.Button("Paint", variant="primary", elem_id="paint", visible=not kiosk)
                        status = gr.Markdown("", elem_id="status")
                    with gr.Column(scale=2):
                        with gr.Row():
                            # No share button: sharing would upload the image to a third party.
                            original = gr.Image(label="Photo, framed", interactive=False, elem_id="original",
                                                format="webp", buttons=["download", "fullscreen"])
                            with gr.Column():
                                portrait = gr.Image(label="Portrait", interactive=False, elem_id="portrait",
                                                    format="webp", buttons=["download", "fullscreen"])
                                label = gr.Markdown("", elem_id="label")
                                with gr.Row():
                                    master_image = gr.Image(label="After", interactive=False, height=160,
                                                            elem_id="master", visible=False, buttons=[])
                                    another = gr.Button("Another master", elem_id="another", visible=False)
                                rank = gr.State(0)  # which master: 0 the best suited, then the next

            with gr.Tab("Live mirror", id="live", visible=not kiosk):
                gr.Markdown("Your webcam, painted live. Freeze a frame to paint it at full size.")
                with gr.Row():
                    live_camera = gr.Image(sources=["webcam"], streaming=True, label="Camera",
                                           webcam_options=gr.WebcamOptions(mirror=True),
                                           elem_id="live-camera")
                    live_portrait = gr.Image(label="Live portrait", interactive=False,
                                             elem_id="live-portrait", buttons=["fullscreen"])
                live_style = gr.Radio(styles, value=styles[0], label="Style", elem_id="live-style")
                freeze = gr.Button("Freeze this frame", variant="primary", elem_id="freeze")
                live_state = gr.State(None, time_to_live=SESSION_SECONDS)

        def run(image: Image.Image | None, style_name: str, which: int | None, view_name: str = VIEWS[0],
                other: str = NO_BLEND, amount: float = 0.0, strength_value: float = 1.0,
                rank: int | None = None):
            """Paint the photo's chosen faces: with the generator, or after a master when ``rank``
            (0: the best-suited master, 1: the next…) is given; then compose the chosen view."""
            if image is None:
                raise InputError("Take a photo with the webcam or choose a file first.")
            image, faces = painter.upright_faces(image)
            recipe = style_recipe(style_name, other, amount)
            chosen = chosen_faces(faces, which)
            if rank is None:
                pairs, used = [painter.portrait(image, f, recipe, strength_value) for f in chosen], []
            elif len(chosen) > MASTER_FACES:
                raise InputError(f"{len(chosen)} faces: click one to have it painted after a master.")
            else:
                library = masters.result()  # ready within seconds of start-up
                pairs, used = map(list, zip(*(painter.after_master(library, image, f, style_name, rank,
                                                                   strength_value) for f in chosen),
                                              strict=True))
            note = (f"{len(faces)} faces found: click a face to paint only that one, or paint every face."
                    if len(faces) > 1 else "")
            if view_name in (WHOLE_PHOTO, ALL_PAINTED):
                left, background = np.asarray(image), image
                if view_name == ALL_PAINTED:  # the scene painted too, the faces from their portraits
                    scene = painter.paint_frame(image, recipe, strength_value)
                    background = Image.fromarray(scene).resize(image.size, Image.Resampling.BILINEAR)
                right = paste_back(background, [(p.painted, p.alignment) for p in pairs])
            else:
                left = side_by_side([p.aligned for p in pairs])
                right = side_by_side([p.painted for p in pairs])
            return data_url(left), data_url(right), note, faces, image, used

        def friendly(error: Exception) -> tuple:
            message = friendly_text(error).removeprefix("⚠️ ")
            if not isinstance(error, InputError):
                # The kind of failure only: messages can quote file names, and the log keeps no
                # image data, names or client addresses.
                log.error("painting failed: %s", type(error).__name__)
            gr.Warning(message)
            return None, None, f"⚠️ {message}"

        def new_photo(image: Image.Image | None, style_name: str, *options) -> tuple:
            """Paint every face of a new photo; offer numbered thumbnails to pick one when there are more."""
            try:
                left, right, note, faces, image, _ = run(image, style_name, None, *options)
            except Exception as error:  # noqa: BLE001 — every failure becomes a message
                left, right, text = friendly(error)
                return image, left, right, *no_faces_offered(), text
            if len(faces) < 2:
                return image, left, right, *no_faces_offered(), note
            return (image, left, right, gr.update(visible=True),
                    gr.update(value=face_thumbnails(image, faces), selected_index=None), None, note)

        def receive(payload: dict | None, style_name: str, *options) -> tuple:
            """A new photo arrived: read it into memory, delete the upload, paint it."""
            try:
                image = uploads.read((payload or {}).get("path"))
            except Exception as error:  # noqa: BLE001 — every failure becomes a message
                left, right, text = friendly(error)
                return None, left, right, *no_faces_offered(), text
            return new_photo(image, style_name, *options)

        def clear():
            """The visitor removed the photo: forget it and what was painted from it."""
            return (None, None, None, *no_faces_offered(), "", "", gr.update(value=None, visible=False),
                    gr.update(visible=False))

        def preview(image: Image.Image | None):
            """Show the photo from memory: its uploaded file is already deleted."""
            return data_url(np.asarray(image)) if image is not None else gr.update()

        def repaint(image: Image.Image | None, style_name: str, which: int | None, *options) -> tuple:
            try:
                return run(image, style_name, which, *options)[:3]
            except Exception as error:  # noqa: BLE001
                return friendly(error)

        def after_master(image: Image.Image | None, style_name: str, which: int | None, *options_rank):
            """Repaint the instant portrait after a real master: portrait, museum label, the master,
            the "Another master" button, and the master's rank (kept for that button)."""
            *options, rank = options_rank
            nothing = (gr.update(), "", gr.update(visible=False), gr.update(visible=False), rank)
            if image is None:
                return nothing
            try:
                _, right, _, _, _, used = run(image, style_name, which, *options, rank)
            except InputError as error:  # the instant portrait stays, and the label says why
                return gr.update(), str(error), gr.update(visible=False), gr.update(visible=False), rank
            except Exception as error:  # noqa: BLE001 — the instant portrait stays
                log.error("master painting failed: %s", type(error).__name__)
                return nothing
            label = "  \n".join(dict.fromkeys(master.credit for master in used))
            picture = data_url(thumbnail(used[0]), quality=85)
            return right, f"*{label}*", gr.update(value=picture, visible=True), gr.update(visible=True), rank

        def first_master(image: Image.Image | None, style_name: str, which: int | None, *options):
            return after_master(image, style_name, which, *options, 0)

        def next_master(image: Image.Image | None, style_name: str, which: int | None, *options_rank):
            *options, rank = options_rank
            return after_master(image, style_name, which, *options, rank + 1)

        def pick_face(selected: gr.SelectData, image: Image.Image | None, style_name: str, *options) -> tuple:
            """A thumbnail was clicked: paint that face."""
            return selected.index, *repaint(image, style_name, selected.index, *options)

        def every(image: Image.Image | None, style_name: str, *options) -> tuple:
            return None, *repaint(image, style_name, None, *options)

        outputs = [original, portrait, status]
        new_outputs = [photo_state, original, portrait, group_box, thumbnails, face, status]
        common = dict(concurrency_limit=CONCURRENCY, concurrency_id="paint", show_progress="minimal")
        # upload, not input: input also fires with no photo when the source is switched or the
        # photo removed, and receive() would greet that with a "No image received" warning.
        options = [view, blend_with, blend, strength]
        # always_last: a photo sent while the previous one is still being painted is painted next,
        # not dropped (its upload would otherwise wait in the cache for the delete_cache backstop).
        painting = camera.upload(receive, [camera, style, *options], new_outputs,
                                 preprocess=False, postprocess=False, trigger_mode="always_last",
                                 api_name="paint", api_visibility="private" if kiosk else "public",
                                 **common)
        painting.then(preview, photo_state, camera, postprocess=False, queue=False, api_visibility="private")
        # After every instant portrait, the painting after a master replaces it (~1-2 s later),
        # its progress shown on the label, not over the portrait the visitor is looking at.
        master_inputs = [photo_state, style, face, *options]
        master_outputs = [portrait, label, master_image, another, rank]
        later = dict(postprocess=False, api_visibility="private", show_progress="full",
                     show_progress_on=[label], concurrency_limit=CONCURRENCY, concurrency_id="paint")
        mastering = [painting.then(first_master, master_inputs, master_outputs, **later)]
        # A newer request cancels the paintings after masters still pending for older ones: the
        # slow painting of an earlier face or style must not replace what the visitor asked last.
        for trigger in (paint.click, style.change, view.change, blend_with.change,
                        blend.release, strength.release):
            event = trigger(repaint, [photo_state, style, face, *options], outputs, postprocess=False,
                            api_visibility="private", cancels=list(mastering), **common)
            mastering.append(event.then(first_master, master_inputs, master_outputs, **later))
        for event in (thumbnails.select(pick_face, [photo_state, style, *options], [face, *outputs],
                                        postprocess=False, api_visibility="private", cancels=list(mastering),
                                        **common),
                      every_face.click(every, [photo_state, style, *options], [face, *outputs],
                                       postprocess=False, api_visibility="private", cancels=list(mastering),
                                       **common)):
            mastering.append(event.then(first_master, master_inputs, master_outputs, **later))
        mastering.append(another.click(next_master, [*master_inputs, rank], master_outputs,
                                       cancels=list(mastering), **later))
        # Removing the photo never waits in the painting queue, and cancels a painting in flight.
        camera.clear(clear, None, [*new_outputs, label, master_image, another], queue=False,
                     cancels=[painting, *mastering], api_visibility="private")

        def master_api(payload: dict | None, style_name: str) -> tuple:
            """For API clients: a photo in, its portrait after the best-suited master and the
            museum label out (the page reaches the same painter through the chain above)."""
            try:
                image = uploads.read((payload or {}).get("path"))
                _, right, _, _, _, used = run(image, style_name, 0, rank=0)
            except Exception as error:  # noqa: BLE001 — every failure becomes a message
                return None, friendly_text(error)
            return right, used[0].credit

        # Components the page never shows: the endpoint's input and outputs.
        api_photo = gr.Image(type="filepath", visible=False, sources=["upload"])
        api_portrait, api_label = gr.Image(visible=False), gr.Markdown(visible=False)
        gr.Button(visible=False).click(master_api, [api_photo, style], [api_portrait, api_label],
                                       preprocess=False, postprocess=False, api_name="paint_after_master",
                                       api_visibility="private" if kiosk else "public", **common)

        def live_step(payload: dict | None, style_name: str, session: LiveSession | None):
            """One streamed frame (a data URL, decoded in memory) → its painted version."""
            session = session or LiveSession()
            try:
                frame = load_image(base64.b64decode((payload or {}).get("url", ",").split(",", 1)[1]))
                painted = session.step(painter, frame, style_name)
            except Exception as error:  # noqa: BLE001 — a bad frame must not end the stream
                if not isinstance(error, InputError):
                    log.error("live frame failed: %s", type(error).__name__)
                return gr.update(), session
            return (data_url(painted, quality=75) if painted is not None else gr.update()), session

        def freeze_frame(session: LiveSession | None, style_name: str, *options):
            """Paint the last live frame at full size in the studio tab."""
            image = session.frame if session else None
            return (*new_photo(image, style_name, *options), gr.update(selected="studio"),
                    data_url(np.asarray(image)) if image is not None else None)

        live_camera.stream(live_step, [live_camera, live_style, live_state], [live_portrait, live_state],
                           preprocess=False, postprocess=False, stream_every=0.1, time_limit=LIVE_SECONDS,
                           concurrency_limit=LIVE_VISITORS, concurrency_id="live", api_visibility="private")
        frozen = freeze.click(freeze_frame, [live_state, live_style, *options], [*new_outputs, tabs, camera],
                              postprocess=False, api_visibility="private", **common)
        frozen.then(first_master, master_inputs, master_outputs, **later)
        take.click(None, js="() => window.portraitCountdown && window.portraitCountdown()")
        for button, name in zip(style_buttons, styles, strict=True):
            button.click(lambda name=name: name, None, style, queue=False, api_visibility="private")
        style.change(lambda name: gr.update(info=DESCRIPTIONS[name]), style, style, queue=False,
                     api_visibility="private")
    return demo


#: Kiosk behaviour in the page: 3-2-1 countdown then capture, keys (space, 1/2/3), idle reset.
#: The reset reloads the page: a new session, so the next visitor never sees the previous one.
KIOSK_JS = """
() => {
  const idleMs = __IDLE__ * 1000;
  let idle;
  const rearm = () => { clearTimeout(idle); idle = setTimeout(() => location.reload(), idleMs); };
  ["pointerdown", "keydown", "touchstart"].forEach((e) => document.addEventListener(e, rearm, true));
  rearm();
  const overlay = document.createElement("div");
  overlay.id = "countdown";
  document.body.appendChild(overlay);
  const button = (label) => document.querySelector(`#photo button[aria-label="${label}"]`);
  const webcamReady = () => { const v = document.querySelector("#photo video");
                              return v && v.readyState >= 2 && v.videoWidth > 0; };
  window.portraitCountdown = () => {
    if (overlay.dataset.running) return;
    const again = button("Remove Image");
    if (again) again.click();  // a new visitor: drop the previous photo first
    const access = [...document.querySelectorAll("#photo button")]
      .find((b) => b.innerText.includes("Click to Access Webcam"));
    if (access) access.click();
    overlay.dataset.running = "1";
    let n = 3;
    overlay.textContent = n;
    overlay.style.display = "flex";
    const tick = setInterval(() => {
      n -= 1;
      if (n > 0) { overlay.textContent = n; return; }
      if (!webcamReady()) { overlay.textContent = "…"; return; }
      clearInterval(tick);
      overlay.style.display = "none";
      delete overlay.dataset.running;
      button("capture photo").click();
    }, 1000);
  };
  document.addEventListener("keydown", (e) => {
    if (e.code === "Space") { e.preventDefault(); window.portraitCountdown(); }
    const styles = document.querySelectorAll(".kiosk-style");
    const index = ["Digit1", "Digit2", "Digit3"].indexOf(e.code);
    if (index >= 0 && styles[index]) styles[index].click();
  });
}
"""
KIOSK_CSS = """
.kiosk-style button, #take { font-size: 1.6rem !important; min-height: 4.5rem; }
#countdown { display: none; position: fixed; inset: 0; z-index: 1000; align-items: center;
             justify-content: center; font-size: 30vh; color: white; background: rgba(0,0,0,.35); }
"""


def load_masters(painter: Painter) -> MasterPainter:
    """The master painter, its library prepared and its kernels compiled."""
    masters = MasterPainter(painter.detector)
    warm_up()
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
                        help="unattended exhibition screen: webcam only, big buttons, countdown, auto reset")
    parser.add_argument("--idle", type=int, default=60,
                        help="kiosk: seconds without input before the screen resets for the next visitor")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no request lines in the log
    from portrait.privacy import upload_budget

    # Before the models load: a RAM disk too small for even a short queue refuses at once.
    budget = upload_budget(CACHE, MAX_FILE_BYTES, QUEUE_SIZE, CONCURRENCY)
    painter = Painter()
    # The library's guides and the synthesis kernels take a few seconds: made beside the server's
    # start, so the instant portrait is served at once and the first master painting waits at most that.
    masters = ThreadPoolExecutor(1, thread_name_prefix="masters").submit(load_masters, painter)
    log.info("portrait studio ready: styles %s, cache in RAM at %s", ", ".join(painter.styles), CACHE)
    demo = build(painter, masters, kiosk=args.kiosk)
    demo.queue(max_size=budget.waiting, default_concurrency_limit=CONCURRENCY)
    kiosk = {"js": KIOSK_JS.replace("__IDLE__", str(args.idle)), "css": KIOSK_CSS,
             "footer_links": []} if args.kiosk else {}
    demo.launch(server_name=args.host, server_port=args.port, share=args.share and not args.kiosk,
                max_file_size=budget.largest, show_error=False, run_history=False, **kiosk)


if __name__ == "__main__":
    main()
