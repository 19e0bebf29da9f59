"""How fast is the real pipeline on this CPU, stage by stage, and against AnimeGANv2?

    python -m benchmarks.latency [--json FILE] [--runs N] [--quick]

Everything runs on the shipped code path: :class:`portrait.pipeline.Painter` with the trained
weights, on a real face (scikit-image's astronaut) placed in 640×480 and 1280×720 JPEG photos,
on two threads (the deployment target is a 2-core box). Each stage is warmed up first, since
oneDNN builds its kernels on the first call at each shape, then timed on its own:

* decode   JPEG bytes → upright RGB (:func:`portrait.inputs.load_image`)
* detect   MTCNN on the decoded photo (:class:`portrait.detect.FaceDetector`)
* align    5-point similarity warp into the portrait frame (:func:`portrait.align.align_face`)
* generate the painter on the aligned frame (:meth:`Painter.paint`)
* encode   WebP, quality 90, method 2, as base64 data URL: what ``app.data_url`` sends
* end to end: JPEG bytes → painted WebP data URL, through ``Painter.__call__`` (the app also
  sends the framed photo, one more encode)
* live mirror: a stream of webcam-sized JPEG frames through :class:`portrait.live.LiveSession`
  at 256² (MTCNN on every few frames only), decoded and re-encoded as the app's live tab does

* masters: the painter after a real master (:class:`portrait.masters.MasterPainter`) on the
  aligned 512² frame, guides and synthesis included (``masters_ms_512``), and its one-off cost at
  start-up (library prepared, kernels compiled)
* instant: the studio's first study once the library is ready, the generator's sitter on a
  master's plate (:mod:`portrait.ground`), JPEG bytes → WebP data URL (``instant_ms_512``), and
  the live mirror on a plate (``instant_live``)

plus peak RSS, cold start in a fresh interpreter (the pipeline's imports, weights and first
portrait; Gradio's own import is not counted), the generator's size and multiply-accumulates
per output pixel, and the same generator-only timing for the AnimeGANv2 peer. Speed goals are
reported against their targets, never asserted: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from benchmarks.animegan import AnimeGANv2, parameter_count
from portrait.align import align_face
from portrait.encode import webp_data_url
from portrait.inputs import load_image
from portrait.live import LiveSession
from portrait.masters import MasterPainter, ready_painter
from portrait.pipeline import Painter
from portrait.styles import WEIGHTS

ROOT = Path(__file__).resolve().parent.parent
THREADS = 2
STYLE = "oil"
INPUTS = {"640x480": (640, 480), "1280x720": (1280, 720)}
OUTPUTS = (256, 512)
STAGES = ("decode", "detect", "align", "generate", "encode", "end_to_end")
#: The goals the project checks these numbers against (reported, not asserted).
TARGETS = {"end_to_end_ms": ("<=", 150.0), "peer_speedup_512": (">=", 3.0), "live_fps": (">=", 8.0),
           "cold_start_s": ("<=", 10.0), "peak_rss_mb": ("<=", 1536.0), "masters_ms_512": ("<=", 1500.0),
           "instant_ms_512": ("<=", 150.0), "instant_live_fps": (">=", 15.0)}

# Run in a fresh interpreter: everything a new app process pays before its first portrait.
# Wall-clock timestamps (time.time) because the start is taken in the parent process. Peak RSS
# from VmHWM, not getrusage: Linux carries the parent's high-water mark across fork + exec into
# ru_maxrss, so a child of this (large) process would report the parent's peak.
COLD_START = """
import json, sys, time
from pathlib import Path
from portrait.pipeline import Painter
from portrait.encode import webp_data_url
painter = Painter(threads={threads})
loaded = time.time()
webp_data_url(painter(sys.stdin.buffer.read(), {style!r})[0].painted)
done = time.time()
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
rss = int(status["VmHWM"].split()[0]) / 1024
print(json.dumps({{"loaded": loaded, "done": done, "peak_rss_mb": rss}}))
"""


def photo(width: int, height: int) -> bytes:
    """A real face photo of the given size as JPEG bytes (quality 90).

    The astronaut is scaled to the height and widened with replicated edges, not mirrored ones,
    so that MTCNN finds exactly one face.
    """
    from skimage import data

    face = np.asarray(Image.fromarray(data.astronaut()).resize((height, height), Image.Resampling.LANCZOS))
    left = (width - height) // 2
    frame = np.pad(face, ((0, 0), (left, width - height - left), (0, 0)), mode="edge")
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def timed(fn: Callable[[], object], runs: int, warmup: int) -> dict:
    """Median and p90 wall time of ``fn`` in ms, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return {"median_ms": round(float(np.median(times)), 2),
            "p90_ms": round(float(np.percentile(times, 90)), 2), "runs": runs}


def macs_per_pixel(model: nn.Module, run: Callable[[torch.Tensor], torch.Tensor], size: int = 512) -> float:
    """Multiply-accumulates of every Conv2d and Linear for one size² image, per output pixel.

    Counted from the actual output shapes with forward hooks, so strides, groups and upsampling
    are accounted for exactly; norms, activations and resampling are cheap and left out.
    """
    total = 0

    def count(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        per_sample = output.numel() // output.shape[0]
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += per_sample * module.in_channels // module.groups * kh * kw
        else:
            total += per_sample * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.inference_mode():
            run(torch.zeros(1, 3, size, size, dtype=next(model.parameters()).dtype))
    finally:
        for hook in hooks:
            hook.remove()
    return total / (size * size)


def peer_paint(peer: nn.Module, aligned: np.ndarray, bf16: bool) -> np.ndarray:
    """AnimeGANv2 wrapped the way :meth:`Painter.paint` wraps ours.

    Same uint8 → channels-last float → (autocast) → photo/painting mix → uint8 steps, so that the
    speed-up compares the two networks and nothing else.
    """
    with torch.inference_mode():
        x = torch.from_numpy(aligned).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            y = peer(x)
        y = torch.lerp(x, y.float(), 1.0)
        return np.ascontiguousarray(y[0].add(1).mul(127.5).clamp(0, 255).round().byte().permute(1, 2, 0))


def live_stream(painter: Painter, jpeg: bytes, frames: int, masters: MasterPainter | None = None) -> dict:
    """Per-frame cost of the live mirror, as its tab runs it (decode, step, WebP q75); with
    ``masters``, on a master's plate.

    Detection runs on one frame in ``detect_every``, so the mean over whole detection cycles,
    not the median, is the rate a visitor sees.
    """
    session = LiveSession(size=painter.size)
    cycle = session.detect_every
    frames = max(cycle, frames - frames % cycle)
    for _ in range(cycle):  # warm-up: one full detection cycle
        webp_data_url(session.step(painter, load_image(jpeg), STYLE, masters), quality=75)
    times = []
    for _ in range(frames):
        start = time.perf_counter()
        webp_data_url(session.step(painter, load_image(jpeg), STYLE, masters), quality=75)
        times.append((time.perf_counter() - start) * 1e3)
    mean = float(np.mean(times))
    return {"mean_ms": round(mean, 2), "median_ms": round(float(np.median(times)), 2),
            "p90_ms": round(float(np.percentile(times, 90)), 2), "fps": round(1000 / mean, 2),
            "frames": frames, "detect_every": cycle, "size": painter.size}


def cold_start(jpeg: bytes) -> dict:
    """Seconds from spawning a fresh interpreter to weights loaded and to the first portrait."""
    start = time.time()
    result = subprocess.run([sys.executable, "-c", COLD_START.format(threads=THREADS, style=STYLE)],
                            input=jpeg, capture_output=True, cwd=ROOT, check=True, timeout=300)
    child = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return {"weights_loaded_s": round(child["loaded"] - start, 3),
            "first_portrait_s": round(child["done"] - start, 3),
            "peak_rss_mb": round(child["peak_rss_mb"], 1)}


def machine() -> dict:
    """What the numbers were measured on, including how busy the machine was."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "python": platform.python_version(),
            # Under CPU contention OpenMP's spin-waiting decides the timings: record the policy.
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def benchmark(runs: int, warmup: int, inputs: dict[str, tuple[int, int]]) -> dict:
    """All measurements, as the JSON document written by ``--json``."""
    torch.set_num_threads(THREADS)
    painters = {size: Painter(WEIGHTS, size=size, threads=THREADS) for size in OUTPUTS}
    bf16 = painters[OUTPUTS[0]].bf16
    photos = {name: photo(*wh) for name, wh in inputs.items()}

    stages: dict[str, dict] = {}
    generate: dict[int, dict] = {}
    encode: dict[int, dict] = {}
    frames: dict[int, np.ndarray] = {}  # the first photo's aligned frames, reused for the peer
    for name, jpeg in photos.items():
        image = load_image(jpeg)
        landmarks = painters[OUTPUTS[0]].upright_faces(image)[1][0].landmarks
        decode = timed(lambda jpeg=jpeg: load_image(jpeg), runs, warmup)
        detect = timed(lambda image=image: painters[OUTPUTS[0]].detector(image), runs, warmup)
        for size, painter in painters.items():
            aligned, _ = align_face(image, landmarks, size)
            painted = painter.paint(aligned, STYLE)
            # The generator and the encoder see size² frames whatever the photo: time them once.
            if size not in generate:
                frames[size] = aligned
                generate[size] = timed(lambda p=painter, a=aligned: p.paint(a, STYLE), runs, warmup)
                encode[size] = timed(lambda im=painted: webp_data_url(im), runs, warmup)
            stages[f"{name}->{size}"] = {
                "decode": decode, "detect": detect,
                "align": timed(lambda i=image, m=landmarks, s=size: align_face(i, m, s), runs, warmup),
                "generate": generate[size], "encode": encode[size],
                "end_to_end": timed(lambda p=painter, j=jpeg: webp_data_url(p(j, STYLE)[0].painted),
                                    runs, warmup)}
    base = next(iter(inputs))  # the headline numbers are for the webcam-sized photo
    live = live_stream(painters[256], photos[base], 3 * runs)
    start = time.perf_counter()
    masters = ready_painter(painters[512])
    masters_ready_s = time.perf_counter() - start
    master_ms = timed(lambda: masters.paint(frames[512], STYLE), max(1, runs // 4), 1)

    def instant(jpeg: bytes = photos[base], painter: Painter = painters[512]) -> str:
        image, faces = painter.upright_faces(load_image(jpeg))
        return webp_data_url(painter.portrait(image, faces[0], STYLE, masters=masters).painted)

    instant_ms = timed(instant, runs, warmup)
    instant_live = live_stream(painters[256], photos[base], 3 * runs, masters)
    # Peak RSS of the pipeline alone: taken before the peer model adds its own activations.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    generator = painters[OUTPUTS[0]].generator
    style = painters[OUTPUTS[0]].style_weights(STYLE)
    peer = AnimeGANv2().eval().requires_grad_(False).to(memory_format=torch.channels_last)
    peer_ms = {size: timed(lambda f=frames[size]: peer_paint(peer, f, bf16), runs, warmup)
               for size in OUTPUTS}

    return {
        "end_to_end_ms": stages[f"{base}->512"]["end_to_end"]["median_ms"],
        "end_to_end_input": base,
        "peer_speedup_512": round(peer_ms[512]["median_ms"] / generate[512]["median_ms"], 2),
        "peer_speedup_256": round(peer_ms[256]["median_ms"] / generate[256]["median_ms"], 2),
        "live_fps": round(1000 / stages[f"{base}->256"]["end_to_end"]["median_ms"], 2),
        "live_fps_note": f"pipeline rate at 256² output: 1000 / median end-to-end ms for {base} photos",
        "live_session": live,
        "masters_ms_512": master_ms["median_ms"],
        "instant_ms_512": instant_ms["median_ms"],
        "instant": {"end_to_end_512": instant_ms, "live": instant_live},
        "masters": {"paint_512": master_ms, "ready_s": round(masters_ready_s, 2),
                    "library": len(masters.masters)},
        "stages": stages,
        "peer_generate": {str(size): stats for size, stats in peer_ms.items()},
        "generator": {"parameters": parameter_count(generator),
                      "macs_per_pixel": round(macs_per_pixel(generator, lambda x: generator(x, style))),
                      "config": generator.config},
        "peer": {"name": "AnimeGANv2 face_paint_512_v2 (random weights)", "parameters": parameter_count(peer),
                 "macs_per_pixel": round(macs_per_pixel(peer, peer))},
        "peak_rss_mb": round(peak_rss_mb, 1),
        "cold_start": cold_start(photos[base]),
        "machine": {**machine(), "bf16": bf16, "style": STYLE, "runs": runs, "warmup": warmup},
    }


def verdict(name: str, value: float) -> str:
    op, goal = TARGETS[name]
    ok = value <= goal if op == "<=" else value >= goal
    return f"{'✅' if ok else '❌'} target {op} {goal:g}"


def report(result: dict) -> str:
    """The results as markdown: one row per photo → portrait size, then the headline numbers."""
    lines = ["| photo → portrait | " + " | ".join(f"{s} ms (median / p90)" for s in STAGES) + " |",
             "|---|" + "---:|" * len(STAGES)]
    for key, stats in result["stages"].items():
        cells = [f"{stats[s]['median_ms']:.1f} / {stats[s]['p90_ms']:.1f}" for s in STAGES]
        lines.append(f"| {key.replace('->', ' → ')}² | " + " | ".join(cells) + " |")
    gen, peer, cold, info = result["generator"], result["peer"], result["cold_start"], result["machine"]
    live, instant_live = result["live_session"], result["instant"]["live"]
    peer_ms = result["peer_generate"]
    cold_s = cold["first_portrait_s"]
    lines += [
        "",
        "| measure | value | goal |",
        "|---|---:|---|",
        f"| end to end {result['end_to_end_input']} → 512², median | {result['end_to_end_ms']:.1f} ms | "
        f"{verdict('end_to_end_ms', result['end_to_end_ms'])} |",
        f"| pipeline rate at 256² ({result['end_to_end_input']}) | {result['live_fps']:.2f} fps | "
        f"{verdict('live_fps', result['live_fps'])} |",
        f"| live mirror at 256² (detect every {live['detect_every']} frames), mean per frame | "
        f"{live['mean_ms']:.1f} ms = {live['fps']:.2f} fps | |",
        f"| instant portrait on a master's plate, end to end {result['end_to_end_input']} → 512², median | "
        f"{result['instant_ms_512']:.1f} ms | {verdict('instant_ms_512', result['instant_ms_512'])} |",
        f"| live mirror on a master's plate, 256², mean per frame | {instant_live['mean_ms']:.1f} ms = "
        f"{instant_live['fps']:.2f} fps | {verdict('instant_live_fps', instant_live['fps'])} |",
        f"| after a master, 512², median | {result['masters_ms_512']:.0f} ms | "
        f"{verdict('masters_ms_512', result['masters_ms_512'])} |",
        f"| master painter ready ({result['masters']['library']} masters, kernels compiled) | "
        f"{result['masters']['ready_s']:.1f} s | |",
        f"| AnimeGANv2 generator 512², median | {peer_ms['512']['median_ms']:.1f} ms | |",
        f"| speed-up vs AnimeGANv2, 512² | {result['peer_speedup_512']:.2f}× | "
        f"{verdict('peer_speedup_512', result['peer_speedup_512'])} |",
        f"| AnimeGANv2 generator 256², median | {peer_ms['256']['median_ms']:.1f} ms | |",
        f"| speed-up vs AnimeGANv2, 256² | {result['peer_speedup_256']:.2f}× | |",
        f"| cold start: weights loaded / first portrait | {cold['weights_loaded_s']:.2f} s / "
        f"{cold_s:.2f} s | {verdict('cold_start_s', cold_s)} |",
        f"| peak RSS: benchmark process / fresh app process | {result['peak_rss_mb']:.0f} MB / "
        f"{cold['peak_rss_mb']:.0f} MB | {verdict('peak_rss_mb', result['peak_rss_mb'])} |",
        f"| generator parameters, MAC per output pixel | {gen['parameters']:,}, "
        f"{gen['macs_per_pixel']:,} | |",
        f"| AnimeGANv2 parameters, MAC per output pixel | {peer['parameters']:,}, "
        f"{peer['macs_per_pixel']:,} | |",
        "",
        f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}, {info['threads']} threads, "
        f"bf16 {'on' if info['bf16'] else 'off'}, OMP_WAIT_POLICY {info['omp_wait_policy']}, style "
        f"{info['style']}, {info['runs']} runs after {info['warmup']} warm-up; load average at the end "
        f"{info['load_average']}.",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Latency of the portrait pipeline, stage by stage.")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--runs", type=int, help="timed runs per measurement (default 20, quick 3)")
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke run: 640×480 only, few runs (well under a minute)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    runs = args.runs or (3 if args.quick else 20)
    inputs = dict(list(INPUTS.items())[:1]) if args.quick else INPUTS
    result = benchmark(max(1, runs), warmup=1 if args.quick else 3, inputs=inputs)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
