"""Image renditions with Pillow: oriented, in sRGB, resized or cropped, stripped, within byte limits.

Pillow was chosen over pyvips by measurement (``bench/README.md``). The source is decoded once
and every preset is derived from that decode; encodes run on a small thread pool because
Pillow releases the GIL while resampling and encoding.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import io
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageCms, ImageDraw, ImageFont, PngImagePlugin

from .presets import ImagePreset
from .probe import Limits, MediaError, exif_orientation, header_exif, image_header, kind_of, read_head, sniff

Position = Literal["top_left", "top_right", "bottom_left", "bottom_right", "centre"]

_SRGB = ImageCms.createProfile("sRGB")
# Reduce by whole factors (cheap box filter) until within this factor of the target, then resample.
_REDUCING_GAP = 3.0
# Bicubic rather than Lanczos: after the box reduce the last step is under 3×, where the two are
# hard to tell apart, and Lanczos cost 20 % more on the 24 MP benchmark (0.48 s against 0.40 s),
# too close to the 0.5 s goal on two cores (bench/README.md).
_FILTER = Image.Resampling.BICUBIC
_M_MMAP_THRESHOLD = -3  # from <malloc.h>
_OPTIMIZE_MAX_PIXELS = 4_000_000


@dataclass(frozen=True, slots=True)
class Watermark:
    """A creator's mark: text or a logo (PNG bytes, alpha respected), never both.

    ``relative_size`` is the mark's width as a fraction of the rendition's width, so the mark looks
    the same on a 320 px thumbnail and a full-size export.
    """

    text: str | None = None
    logo: bytes | None = None
    position: Position = "bottom_right"
    opacity: float = 0.5
    relative_size: float = 0.25
    margin: float = 0.03

    def __post_init__(self) -> None:
        if (self.text is None) == (self.logo is None):
            raise ValueError("a watermark is either text or a logo")
        if not 0 < self.opacity <= 1 or not 0 < self.relative_size <= 1:
            raise ValueError("opacity and relative_size are fractions in (0, 1]")


@dataclass(frozen=True, slots=True)
class RenderedImage:
    """One encoded rendition, ready to store."""

    data: bytes
    width: int
    height: int
    mime: str
    quality: int | None = None

    @property
    def size_bytes(self) -> int:
        """Encoded size, what platform limits are about."""
        return len(self.data)


def render_image(
    src_path: str | os.PathLike[str],
    preset: ImagePreset,
    *,
    watermark: Watermark | None = None,
    xmp: bytes | None = None,
) -> RenderedImage:
    """Render one preset; for several presets of one source use ``render_all`` (one decode)."""
    return render_all(src_path, [preset], watermark=watermark, xmp=xmp)[preset.name]


def render_all(
    src_path: str | os.PathLike[str],
    presets: Iterable[ImagePreset],
    *,
    watermark: Watermark | None = None,
    xmp: bytes | None = None,
    max_workers: int | None = None,
    limits: Limits | None = None,
) -> dict[str, RenderedImage]:
    """Render every preset from a single decode of the source.

    No metadata from the source reaches any output (EXIF with GPS, XMP, IPTC, comments, ICC after
    conversion to sRGB); ``xmp`` is the one packet written, so provenance marking can re-declare
    an AI origin (IPTC DigitalSourceType) on renditions of generated images.
    """
    presets = list(presets)
    if not presets:
        return {}
    _pin_mmap_threshold()
    groups = _identical_encodes(presets)
    source = decode_source(src_path, scale_hint=lambda size: max(required_scale(p, size) for p in presets),
                           limits=limits)
    shared = _shared_intermediate(source, list(groups))
    results: dict[str, RenderedImage] = {}

    def one(preset: ImagePreset) -> None:
        base = shared if shared is not None and required_scale(preset, shared.size) < 1.0 else source
        rendered = _render_from(base, preset, watermark, xmp)
        for name in groups[preset]:
            results[name] = rendered

    try:
        # Two phases keep peak memory near one decoded source (Pillow holds RGB at 4 bytes per
        # pixel: 96 MB for 24 MP): full-size presets encode the source itself — no copy — one at
        # a time (Pillow keeps per-save state on the image object); then the source is released
        # and the presets made from the shared intermediate run on the pool.
        from_source = [p for p in groups if shared is None or required_scale(p, shared.size) >= 1.0]
        from_shared = [p for p in groups if p not in from_source]
        workers = max_workers or min(4, os.cpu_count() or 1)
        if shared is None:
            _run_all(one, from_source, workers)
        else:
            for preset in from_source:
                one(preset)
            source.close()
            _run_all(one, from_shared, workers)
    finally:
        source.close()
        if shared is not None:
            shared.close()
    return {p.name: results[p.name] for p in presets}


@functools.cache
def _pin_mmap_threshold() -> None:
    """Keep a worker's memory flat from one render to the next.

    glibc raises its mmap threshold after the first large free, so from the second render on,
    Pillow's 16 MB image blocks come from the heap and stay in the process after they are freed:
    peak RSS grew from 152 MB to 231 MB on the second 24 MP photo (bench/README.md). Pinning the
    threshold at 1 MB returns every image block to the system when it is freed. No-op off glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)
    except (OSError, AttributeError):
        pass  # musl or another libc: its allocator has no such heuristic to pin


def _run_all(render: Callable[[ImagePreset], None], presets: list[ImagePreset], workers: int) -> None:
    """Render on a thread pool: Pillow releases the GIL while resampling and encoding."""
    if workers <= 1 or len(presets) <= 1:
        for preset in presets:
            render(preset)
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(presets))) as pool:
        for future in [pool.submit(render, p) for p in presets]:
            future.result()


def _identical_encodes(presets: list[ImagePreset]) -> dict[ImagePreset, list[str]]:
    """Presets that differ only by name and byte limit are encoded once, under the tightest limit.

    Fanvue and Reddit both take the full-size re-encode; encoding 24 MP twice would be a third of
    the render time for two identical files.
    """
    by_shape: dict[tuple[object, ...], list[ImagePreset]] = {}
    for preset in presets:
        key = (preset.format, preset.quality, preset.min_quality, preset.max_edge, preset.crop, preset.watermarkable)
        by_shape.setdefault(key, []).append(preset)
    groups: dict[ImagePreset, list[str]] = {}
    for members in by_shape.values():
        limits = [p.max_bytes for p in members if p.max_bytes is not None]
        representative = dataclasses.replace(members[0], max_bytes=min(limits) if limits else None)
        groups[representative] = [p.name for p in members]
    return groups


def _exif_after_load(im: Image.Image) -> Image.Exif:
    """EXIF once the pixels are decoded; unreadable EXIF counts as none (it is stripped anyway)."""
    try:
        exif = im.getexif()
        dict(exif)
    except Exception:  # a broken IFD must not fail the rendition
        return Image.Exif()
    return exif


def decode_source(
    src_path: str | os.PathLike[str],
    *,
    scale_hint: Callable[[tuple[int, int]], float] | None = None,
    limits: Limits | None = None,
) -> Image.Image:
    """Decode to an upright sRGB image in ``RGB`` or ``RGBA``.

    ``scale_hint`` maps the upright size to the smallest scale the caller needs; JPEG then decodes
    at a DCT-scaled size (1/2, 1/4, 1/8) at least that large: a 24 MP photo needed only for
    1600 px renditions costs a quarter of the work and memory.
    """
    mime = sniff(read_head(src_path))
    if kind_of(mime) != "image":
        raise MediaError("unsupported_type", "This file is not an image we can render.")
    # Every frame's declared size against the limits before Pillow sees the file, whoever calls.
    image_header(src_path, mime, limits or Limits())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(src_path)
            exif = header_exif(im)
            orientation = exif_orientation(exif.get(0x0112, 1))
            if im.format == "JPEG" and scale_hint is not None:
                upright = (im.height, im.width) if orientation in (5, 6, 7, 8) else im.size
                scale = scale_hint(upright)
                if scale < 1:
                    im.draft(im.mode, (math.ceil(im.width * scale), math.ceil(im.height * scale)))
            im.load()
            # After the decode: PNG may keep its eXIf chunk after the pixel data.
            orientation = exif_orientation(_exif_after_load(im).get(0x0112, 1))
    except Image.DecompressionBombError as exc:
        raise MediaError("pixel_bomb", "This image is too large to process safely.") from exc
    except MemoryError:
        raise
    except MediaError:
        raise
    except Exception as exc:  # any decoder failure means the file cannot be rendered
        raise MediaError("corrupt", "This image is damaged or incomplete and cannot be rendered.") from exc
    icc = im.info.get("icc_profile")
    im = _to_srgb(im, icc)
    if orientation != 1:
        # exif_transpose needs the tag on the image it transposes; the decode above may have
        # replaced the object (colour conversion), so apply the transform explicitly.
        method = {
            2: Image.Transpose.FLIP_LEFT_RIGHT,
            3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270,
            7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90,
        }.get(orientation)
        if method is not None:
            im = im.transpose(method)
    im.info = {}
    return im


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert embedded profiles (Display P3 phones, CMYK print files) so colours survive stripping.

    The output carries no profile, and browsers and platforms read untagged images as sRGB.
    """
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)
    if icc and not _is_srgb(icc) and im.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            src_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(
                im, src_profile, _SRGB, outputMode=out_mode, renderingIntent=ImageCms.Intent.PERCEPTUAL
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to the naive conversion below rather than refuse the photo
    if has_alpha:
        return im if im.mode == "RGBA" else im.convert("RGBA")
    return im if im.mode == "RGB" else im.convert("RGB")


def _is_srgb(icc: bytes) -> bool:
    try:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except (ImageCms.PyCMSError, OSError):
        return False
    return "srgb" in description.lower().replace(" ", "")


def _target_size(size: tuple[int, int], preset: ImagePreset) -> tuple[int, int]:
    if preset.crop:
        return preset.crop
    if preset.max_edge:
        return fit_within(size, preset.max_edge)
    return size


def required_scale(preset: ImagePreset, size: tuple[int, int]) -> float:
    """The smallest scale of ``size`` from which the preset can be made without upscaling.

    For a centred crop of ``(cw, ch)`` the crop box is limited by whichever side is relatively
    shorter, hence the max of the two ratios.
    """
    width, height = size
    if preset.crop:
        crop_w, crop_h = preset.crop
        return min(1.0, max(crop_w / width, crop_h / height))
    if preset.max_edge:
        return min(1.0, preset.max_edge / max(width, height))
    return 1.0


def _shared_intermediate(source: Image.Image, presets: list[ImagePreset]) -> Image.Image | None:
    """A reduced copy shared by every preset that fits in it.

    Resampling a 6 MP intermediate instead of the 24 MP decode for each small preset is where
    most of the render time goes; ``Image.reduce`` is a box filter, cheap and alias-free for
    whole factors, and the final Lanczos pass gives the sharpness.
    """
    small = [s for s in (required_scale(p, source.size) for p in presets) if s <= 0.5]
    if len(small) < 2:
        return None
    factor = min(8, math.floor(1 / max(small)))
    return source.reduce(factor) if factor >= 2 else None


def _centre_box(size: tuple[int, int], aspect: float) -> tuple[int, int, int, int]:
    width, height = size
    if width / height > aspect:
        crop_w = round(height * aspect)
        left = (width - crop_w) // 2
        return left, 0, left + crop_w, height
    crop_h = round(width / aspect)
    top = (height - crop_h) // 2
    return 0, top, width, top + crop_h


def _render_from(
    base: Image.Image, preset: ImagePreset, watermark: Watermark | None, xmp: bytes | None
) -> RenderedImage:
    if preset.crop:
        crop_w, crop_h = preset.crop
        box = _centre_box(base.size, crop_w / crop_h)
        target = preset.crop
        if box[2] - box[0] < crop_w:
            # Too small for the exact size: keep the aspect ratio (what platforms check) without upscaling.
            target = (box[2] - box[0], box[3] - box[1])
        image = base.resize(target, _FILTER, box=box, reducing_gap=_REDUCING_GAP)
    else:
        target = _target_size(base.size, preset)
        # ``base`` itself is never mutated below: watermarking and flattening return new images.
        image = base if target == base.size else base.resize(target, _FILTER, reducing_gap=_REDUCING_GAP)
    if watermark is not None and preset.watermarkable:
        image = apply_watermark(image, watermark)
    if image.mode == "RGBA" and not preset.keeps_alpha:
        image = _flatten_on_white(image)
    if image is not base:
        image.info = {}  # resize copies ``info``; belt and braces so no source metadata reaches a plugin
    return _encode_within(image, preset, xmp)


def _flatten_on_white(image: Image.Image) -> Image.Image:
    """JPEG has no alpha; white matches how the platforms show transparent PNGs in their feeds."""
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _encode(image: Image.Image, preset: ImagePreset, quality: int, xmp: bytes | None) -> bytes:
    buffer = io.BytesIO()
    # exif=b"" and no icc_profile: nothing from the source is carried, whatever the plugin defaults.
    if preset.format == "JPEG":
        # Huffman optimisation saves ~15 % for little time on small images; on full-size exports it
        # doubles the encode time, and progressive scans cost more still (bench/README.md).
        small = image.width * image.height <= _OPTIMIZE_MAX_PIXELS
        params: dict[str, object] = {"quality": quality, "optimize": small, "progressive": False, "exif": b""}
        if xmp:
            params["xmp"] = xmp
        image.save(buffer, "JPEG", **params)
    elif preset.format == "WEBP":
        params = {"quality": quality, "method": 4, "exif": b""}
        if xmp:
            params["xmp"] = xmp
        image.save(buffer, "WEBP", **params)
    else:
        info = PngImagePlugin.PngInfo()
        if xmp:
            info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"), zip=False)
        image.save(buffer, "PNG", optimize=False, compress_level=6, pnginfo=info)
    return buffer.getvalue()


def _encode_within(image: Image.Image, preset: ImagePreset, xmp: bytes | None) -> RenderedImage:
    """Step quality down, then size, until the rendition fits the platform's byte limit.

    Platforms reject an oversized upload rather than recompress it, so a rendition that does not
    fit is useless; shrinking by 15 % after the lowest acceptable quality keeps detail better than
    going lower still.
    """
    lossless = preset.format == "PNG"
    for _ in range(8):
        quality = preset.quality
        while True:
            data = _encode(image, preset, quality, xmp)
            if preset.max_bytes is None or len(data) <= preset.max_bytes:
                return RenderedImage(data, image.width, image.height, preset.mime, None if lossless else quality)
            if lossless or quality <= preset.min_quality:
                break
            # Size falls roughly linearly with quality in this range: jump towards the target.
            ratio = preset.max_bytes / len(data)
            step = max(5, round((1 - ratio) * 40))
            quality = max(preset.min_quality, quality - step)
        new_size = (max(1, round(image.width * 0.85)), max(1, round(image.height * 0.85)))
        image = image.resize(new_size, Image.Resampling.LANCZOS)
    raise MediaError(
        "too_large", f"Could not make the {preset.name} rendition smaller than {preset.max_bytes:,} bytes."
    )


# --- watermark -------------------------------------------------------------------------------------


def apply_watermark(image: Image.Image, watermark: Watermark) -> Image.Image:
    """Composite a text or logo mark; returns a new image in the input's mode."""
    mark = _logo_mark(image, watermark) if watermark.logo is not None else _text_mark(image, watermark)
    if watermark.opacity < 1:
        alpha = mark.getchannel("A").point(lambda a: round(a * watermark.opacity))
        mark.putalpha(alpha)
    x, y = _mark_position(image.size, mark.size, watermark)
    base = image.convert("RGBA") if image.mode != "RGBA" else image.copy()
    base.alpha_composite(mark, (x, y))
    return base if image.mode == "RGBA" else base.convert(image.mode)


def _logo_mark(image: Image.Image, watermark: Watermark) -> Image.Image:
    assert watermark.logo is not None
    with Image.open(io.BytesIO(watermark.logo)) as logo:
        logo = logo.convert("RGBA")
        width = max(1, round(image.width * watermark.relative_size))
        height = max(1, round(logo.height * width / logo.width))
        return logo.resize((width, height), Image.Resampling.LANCZOS)


def _text_mark(image: Image.Image, watermark: Watermark) -> Image.Image:
    assert watermark.text is not None
    target_width = max(8, round(image.width * watermark.relative_size))
    probe_font = ImageFont.load_default(size=100)
    left, top, right, bottom = probe_font.getbbox(watermark.text)
    size = max(6, round(100 * target_width / max(1, right - left)))
    font = ImageFont.load_default(size=size)
    stroke = max(1, size // 14)
    left, top, right, bottom = font.getbbox(watermark.text, stroke_width=stroke)
    mark = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    draw = ImageDraw.Draw(mark)
    # White with a dark outline stays legible on both light and dark photos.
    draw.text(
        (-left, -top),
        watermark.text,
        font=font,
        fill=(255, 255, 255, 255),
        stroke_width=stroke,
        stroke_fill=(0, 0, 0, 200),
    )
    return mark


def _mark_position(size: tuple[int, int], mark: tuple[int, int], watermark: Watermark) -> tuple[int, int]:
    width, height = size
    mark_w, mark_h = mark
    margin = round(min(width, height) * watermark.margin)
    xs = {"left": margin, "right": width - mark_w - margin, "centre": (width - mark_w) // 2}
    ys = {"top": margin, "bottom": height - mark_h - margin, "centre": (height - mark_h) // 2}
    if watermark.position == "centre":
        return max(0, xs["centre"]), max(0, ys["centre"])
    vertical, horizontal = watermark.position.split("_")
    return max(0, xs[horizontal]), max(0, ys[vertical])


def fit_within(size: tuple[int, int], max_edge: int) -> tuple[int, int]:
    """Dimensions scaled down (never up) so the long edge is at most ``max_edge``."""
    width, height = size
    if max(width, height) <= max_edge:
        return width, height
    scale = max_edge / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
