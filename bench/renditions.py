"""Rendition throughput and peak memory: Pillow (what ``content.pipeline`` uses) against pyvips.

Run: ``.venv/bin/python -m bench.renditions`` (``--runs N`` repetitions per case, default 5).

Each case runs in its own child process so its peak RSS is its own: the parent reaps the child
with ``os.wait4`` and reads ``ru_maxrss`` from that child's rusage; ffmpeg's memory is reported
by the child from ``RUSAGE_CHILDREN``. Wall time is measured inside the child around the work
only (imports and interpreter start excluded), median of ``--runs`` repetitions after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench"

SAMPLES = {
    "jpeg_24mp": ("photo_24mp.jpg", "24 MP JPEG 6000×4000, EXIF + GPS"),
    "jpeg_100mp": ("photo_100mp.jpg", "100 MP JPEG 12240×8160"),
    "png_4k_alpha": ("alpha_4k.png", "4K PNG 3840×2160 RGBA"),
    "video_60s_1080p": ("video_60s_1080p.mp4", "60 s 1080p30 H.264/AAC MP4"),
}


# --- sample generation ------------------------------------------------------------------------------


def _photo_like(size: tuple[int, int]):
    """Structure plus sensor-like noise, so JPEG sizes and decode costs resemble a real photo."""
    from PIL import Image, ImageChops

    width, height = size
    detail = Image.effect_mandelbrot(size, (-2.2, -1.2, 0.8, 1.2), 80)
    green = Image.linear_gradient("L").resize(size)
    blue = Image.radial_gradient("L").resize(size)
    image = Image.merge("RGB", (detail, green, blue))
    noise = Image.effect_noise((width // 2, height // 2), 24).resize(size).convert("RGB")
    return ImageChops.add(image, noise, scale=1.0, offset=-128)


def make_samples(force: bool = False) -> dict[str, Path]:
    from PIL import Image

    WORK.mkdir(parents=True, exist_ok=True)
    paths = {key: WORK / name for key, (name, _) in SAMPLES.items()}
    if force or not paths["jpeg_24mp"].exists():
        exif = Image.Exif()
        exif[0x010F] = "BenchCam"
        exif[0x0110] = "Model 24"
        exif[0x0112] = 1
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
        _photo_like((6000, 4000)).save(paths["jpeg_24mp"], "JPEG", quality=92, exif=exif)
    if force or not paths["jpeg_100mp"].exists():
        _photo_like((12240, 8160)).save(paths["jpeg_100mp"], "JPEG", quality=90)
    if force or not paths["png_4k_alpha"].exists():
        rgb = _photo_like((3840, 2160))
        alpha = Image.radial_gradient("L").resize((3840, 2160))
        rgb.putalpha(alpha)
        rgb.save(paths["png_4k_alpha"], "PNG", compress_level=3)
    if force or not paths["video_60s_1080p"].exists():
        from content.pipeline.probe import ffmpeg_exe

        subprocess.run(
            [
                ffmpeg_exe(),
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=1920x1080:rate=30:duration=60",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:duration=60",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-crf",
                "28",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-shortest",
                str(paths["video_60s_1080p"]),
            ],
            check=True,
            timeout=600,
        )
    return paths


# --- the two image pipelines --------------------------------------------------------------------------


def pillow_all(src: Path) -> dict[str, int]:
    from content.pipeline.images import render_all
    from content.pipeline.presets import image_presets

    return {name: r.size_bytes for name, r in render_all(src, image_presets()).items()}


def pyvips_all(src: Path) -> dict[str, int]:
    """The same presets the idiomatic libvips way: ``thumbnail`` from the file per preset
    (shrink-on-load for JPEG) and a streaming full-size re-encode."""
    import pyvips

    def load(preset):
        if preset.crop:
            return pyvips.Image.thumbnail(
                str(src), preset.crop[0], height=preset.crop[1], crop="centre", size="down", export_profile="srgb"
            )
        if preset.max_edge:
            return pyvips.Image.thumbnail(
                str(src), preset.max_edge, height=preset.max_edge, size="down", export_profile="srgb"
            )
        return pyvips.Image.new_from_file(str(src), access="sequential").autorot()

    return _vips_encode_all(load)


def pyvips_once(src: Path) -> dict[str, int]:
    """libvips with Pillow's strategy: decode once into memory, derive every preset from it."""
    import pyvips

    base = pyvips.Image.new_from_file(str(src)).autorot()
    if base.get_typeof("icc-profile-data"):
        base = base.icc_transform("srgb")
    base = base.copy_memory()

    def load(preset):
        if preset.crop:
            return base.thumbnail_image(preset.crop[0], height=preset.crop[1], crop="centre", size="down")
        if preset.max_edge:
            return base.thumbnail_image(preset.max_edge, height=preset.max_edge, size="down")
        return base

    return _vips_encode_all(load)


def _vips_encode_all(load) -> dict[str, int]:
    """The quality-stepping rule of ``content.pipeline.images`` for byte limits; a sequential image
    can be read once, so each attempt asks ``load`` again."""
    from content.pipeline.presets import image_presets

    sizes = {}
    for preset in image_presets():
        suffix = {"JPEG": ".jpg", "WEBP": ".webp", "PNG": ".png"}[preset.format]
        quality = preset.quality
        while True:
            image = load(preset)
            if image.hasalpha() and not preset.keeps_alpha:
                image = image.flatten(background=[255, 255, 255])
            options = {"keep": "none"} if preset.format == "PNG" else {"Q": quality, "keep": "none"}
            data = image.write_to_buffer(suffix, **options)
            if preset.max_bytes is None or len(data) <= preset.max_bytes or quality <= preset.min_quality:
                break
            quality = max(preset.min_quality, quality - max(5, round((1 - preset.max_bytes / len(data)) * 40)))
        sizes[preset.name] = len(data)
    return sizes


def video_all(src: Path) -> dict[str, int]:
    from content.pipeline.presets import VIDEO_PRESETS
    from content.pipeline.video import poster_frame, transcode_mp4

    out = WORK / "out_x_video.mp4"
    poster = poster_frame(src)
    info = transcode_mp4(src, VIDEO_PRESETS["x_video"], out)
    return {"poster": len(poster), "x_video": info.size_bytes}


PIPELINES = {"pillow": pillow_all, "pyvips": pyvips_all, "pyvips-once": pyvips_once, "ffmpeg": video_all}


def run_case(library: str, src: Path, runs: int) -> dict[str, object]:
    """Child side: warm up once, time ``runs`` repetitions, report sizes and memory."""
    work = PIPELINES[library]
    if library.startswith("pyvips"):
        import pyvips

        pyvips.cache_set_max(0)  # otherwise repeats are served from libvips' operation cache
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if library != "ffmpeg":
        work(src)  # warm-up: first-call costs (codec tables, thread pools) are not per-upload costs
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sizes = work(src)
        times.append(time.perf_counter() - start)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "sizes": sizes,
        "baseline_mb": baseline_kb / 1024,
        "ffmpeg_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def spawn(library: str, src: Path, runs: int) -> dict[str, object]:
    """Parent side: one child per case, its peak RSS from ``wait4`` so cases never mix."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.renditions", "--child", library, str(src), "--runs", str(runs)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{library} on {src.name} failed with exit code {proc.returncode}")
    result = json.loads(output)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import PIL

    versions = [f"Pillow {PIL.__version__}"]
    try:
        import pyvips

        libvips = ".".join(str(pyvips.version(i)) for i in range(3))
        versions.append(f"pyvips {pyvips.__version__} / libvips {libvips}")
    except ImportError:
        versions.append("pyvips not installed")
    return f"{os.cpu_count()} CPU(s), {model}, Python {platform.python_version()}, " + ", ".join(versions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--regenerate", action="store_true", help="rebuild the sample files")
    parser.add_argument("--make-samples", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "SRC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        library, src = args.child
        print(json.dumps(run_case(library, Path(src), args.runs)))
        return
    if args.make_samples:
        make_samples(force=args.regenerate)
        return
    print(f"machine: {machine()}", flush=True)
    start = time.perf_counter()
    # Generated in a child: Linux carries a process's peak RSS across fork/exec, so a parent that
    # had held a 100 MP image would lend that peak to every case it spawns.
    argv = [sys.executable, "-m", "bench.renditions", "--make-samples"] + (["--regenerate"] if args.regenerate else [])
    subprocess.run(argv, cwd=ROOT, check=True)
    paths = {key: WORK / name for key, (name, _) in SAMPLES.items()}
    print(f"samples ready in {time.perf_counter() - start:.1f} s under {WORK}", flush=True)
    print()
    print("| sample | library | median wall (s) | min (s) | peak RSS (MB) | RSS after imports (MB) | output bytes |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for key, (_, label) in SAMPLES.items():
        libraries = ["ffmpeg"] if key.startswith("video") else ["pillow", "pyvips", "pyvips-once"]
        for library in libraries:
            # A 60 s transcode is long enough that one timed run is a stable number.
            runs = 1 if library == "ffmpeg" else args.runs
            try:
                result = spawn(library, paths[key], runs)
            except SystemExit as exc:
                print(f"| {label} | {library} | failed: {exc} | | | | |", flush=True)
                continue
            # For ffmpeg, wait4's figure covers the child's own children too, so report ffmpeg's peak.
            ffmpeg = library == "ffmpeg"
            peak = f"{result['ffmpeg_peak_mb']:.0f} (ffmpeg)" if ffmpeg else f"{result['peak_rss_mb']:.0f}"
            total = sum(result["sizes"].values())
            print(
                f"| {label} | {library} | {result['median_s']:.3f} | {result['min_s']:.3f} | {peak} "
                f"| {result['baseline_mb']:.0f} | {total:,} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
