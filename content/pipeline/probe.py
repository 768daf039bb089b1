"""What a file really is: MIME from its bytes, its dimensions and flags, and whether we accept it.

Everything here reads the file without trusting its name or the uploader's Content-Type, and
every refusal is a ``MediaError`` whose message can be shown to the person who uploaded.
"""

from __future__ import annotations

import os
import re
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image, ImageFile, UnidentifiedImageError

try:  # HEIC/HEIF from phones; optional so a worker without the wheel still handles everything else.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the installed wheels
    HEIF_SUPPORTED = False

# A truncated upload must be refused, not silently padded with grey: this is a process-wide
# Pillow switch, so pin it where the pipeline is imported.
ImageFile.LOAD_TRUNCATED_IMAGES = False

Kind = Literal["image", "video", "audio"]

IMAGE_MIMES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif", "image/avif", "image/tiff"}
)
VIDEO_MIMES = frozenset({"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/3gpp"})
AUDIO_MIMES = frozenset({"audio/mpeg", "audio/mp4", "audio/wav", "audio/ogg", "audio/flac"})
ACCEPTED_MIMES = IMAGE_MIMES | VIDEO_MIMES | AUDIO_MIMES

# What a refused file looks like, in words an editor understands.
FOREIGN_TYPES = {
    "application/x-msdownload": "a Windows program",
    "application/x-executable": "a Linux program",
    "application/x-mach-binary": "a macOS program",
    "application/x-sh": "a script",
    "application/zip": "a ZIP archive or Office document",
    "application/gzip": "a compressed archive",
    "application/x-rar": "a compressed archive",
    "application/x-7z-compressed": "a compressed archive",
    "application/pdf": "a PDF document",
    "image/svg+xml": "an SVG drawing, which can carry scripts",
    "text/html": "a web page",
    "video/x-msvideo": "an AVI video, which we do not accept; export it as MP4",
    "image/bmp": "a BMP image, which we do not accept; export it as PNG or JPEG",
}

HEAD_BYTES = 4096

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_AVIF_BRANDS = {b"avif", b"avis"}
_MIF_BRANDS = {b"mif1", b"msf1"}
_QT_BRANDS = {b"qt  "}
_M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
_3GP_PREFIX = (b"3gp", b"3g2")
_MACHO_MAGIC = {b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"}


def sniff(head: bytes) -> str:
    """Name the format from magic bytes; the filename is never consulted because it is attacker-chosen.

    Returns ``application/octet-stream`` when nothing matches. Pass at least the first 4 KiB.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(
            head[8:12], "application/octet-stream"
        )
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return _sniff_foreign(head)


def _sniff_ftyp(head: bytes) -> str:
    """ISO base media files say what they are in the ftyp box: a major brand and compatible brands."""
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    brands = {major} | compatible
    if major in _AVIF_BRANDS:
        return "image/avif"
    if major in _HEIF_BRANDS or (major in _MIF_BRANDS and brands & _HEIF_BRANDS):
        return "image/heic"
    if major in _MIF_BRANDS:
        return "image/avif" if brands & _AVIF_BRANDS else "image/heif"
    if major in _QT_BRANDS:
        return "video/quicktime"
    if major in _M4A_BRANDS:
        return "audio/mp4"
    if major.startswith(_3GP_PREFIX):
        return "video/3gpp"
    return "video/mp4"


def _sniff_foreign(head: bytes) -> str:
    if head.startswith(b"MZ"):
        return "application/x-msdownload"
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head[:4] in _MACHO_MAGIC:
        return "application/x-mach-binary"
    if head.startswith(b"#!"):
        return "application/x-sh"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "application/zip"
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    if head.startswith(b"Rar!"):
        return "application/x-rar"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "application/x-7z-compressed"
    if head.startswith(b"%PDF"):
        return "application/pdf"
    if head.startswith(b"BM"):
        return "image/bmp"
    text = head[:512].lstrip().lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "image/svg+xml"
    if text.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    return "application/octet-stream"


def kind_of(mime: str) -> Kind | None:
    """Which family a sniffed MIME belongs to, or None when we do not accept it at all."""
    if mime in IMAGE_MIMES:
        return "image"
    if mime in VIDEO_MIMES:
        return "video"
    if mime in AUDIO_MIMES:
        return "audio"
    return None


class MediaError(Exception):
    """A refusal with a stable ``code`` for programs and a ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"MediaError({self.code!r}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What probing found; dimensions are as displayed (after EXIF orientation or video rotation)."""

    kind: Kind
    mime: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    pixel_format: str | None = None
    fps: float | None = None
    rotation: int = 0
    frames: int = 1
    has_alpha: bool = False
    orientation: int = 1
    mode: str | None = None
    has_exif: bool = False
    has_gps: bool = False
    has_xmp: bool = False
    has_icc: bool = False
    ai_marker: str | None = None
    codecs: tuple[str, ...] = field(default=())

    @property
    def pixels(self) -> int:
        """Width × height, the number that decides decode memory."""
        return (self.width or 0) * (self.height or 0)


@dataclass(frozen=True, slots=True)
class Limits:
    """What ingest accepts. The defaults suit an agency vault; services may pass stricter ones."""

    max_image_bytes: int = 100 * 1024 * 1024
    max_video_bytes: int = 4 * 1024 * 1024 * 1024
    max_audio_bytes: int = 500 * 1024 * 1024
    # 120 MP covers medium-format cameras; above that a file is far more likely a bomb than a photo.
    max_pixels: int = 120_000_000
    max_video_pixels: int = 7680 * 4320
    max_video_duration_s: float = 3 * 3600
    # How much of a video is decoded to prove it is not corrupt; the whole file would cost minutes.
    video_decode_check_s: float = 3.0
    ffmpeg_timeout_s: float = 60.0


# --- AI provenance markers ----------------------------------------------------------------------

_IPTC_SOURCE = re.compile(
    rb"digitalsourcetype/(trainedAlgorithmicMedia|compositeSynthetic|algorithmicMedia|"
    rb"compositeWithTrainedAlgorithmicMedia)",
    re.IGNORECASE,
)
_C2PA = (b"c2pa", b"C2PA")
_MARKER_WINDOW = 4 * 1024 * 1024


def find_ai_marker(path: str | os.PathLike[str]) -> str | None:
    """Spot declared AI origin: an IPTC DigitalSourceType in XMP, or a C2PA manifest (JUMBF box).

    Only the head and tail of the file are read: metadata lives there in every container we
    accept, and reading a 2 GB video whole to find it would be wasteful. This reports what the
    file claims; it does not verify C2PA signatures.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        chunks = [fh.read(_MARKER_WINDOW)]
        if size > _MARKER_WINDOW:
            fh.seek(max(_MARKER_WINDOW, size - _MARKER_WINDOW))
            chunks.append(fh.read())
    for chunk in chunks:
        match = _IPTC_SOURCE.search(chunk)
        if match:
            return "iptc:" + match.group(1).decode()
    for chunk in chunks:
        if b"jumb" in chunk and any(label in chunk for label in _C2PA):
            return "c2pa"
    return None


# --- probing --------------------------------------------------------------------------------------


def read_head(path: str | os.PathLike[str], n: int = HEAD_BYTES) -> bytes:
    """The first bytes of a file, enough for ``sniff``."""
    with open(path, "rb") as fh:
        return fh.read(n)


def probe_file(path: str | os.PathLike[str], *, timeout_s: float = 60.0) -> MediaInfo:
    """Describe a file from its header and metadata, without decoding pixels.

    Raises ``MediaError`` only when the file cannot be described at all (empty, foreign type,
    unreadable header); size, pixel and duration limits are ``validate``'s business.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise MediaError("empty", "This file is empty (0 bytes). Upload it again.")
    mime = sniff(read_head(path))
    kind = kind_of(mime)
    if kind is None:
        raise MediaError("unsupported_type", _unsupported_message(mime))
    marker = find_ai_marker(path)
    if kind == "image":
        return _probe_image(path, mime, size, marker)
    return _probe_av(path, mime, kind, size, marker, timeout_s=timeout_s)


def _unsupported_message(mime: str) -> str:
    looks_like = FOREIGN_TYPES.get(mime)
    if looks_like:
        return f"This file is not an image, video or audio file we accept (it looks like {looks_like})."
    return "This file is not an image, video or audio file we accept (its contents match no format we know)."


def _probe_image(path: Path, mime: str, size: int, marker: str | None) -> MediaInfo:
    try:
        with warnings.catch_warnings():
            # The pixel limit is ours to apply (``validate``); Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return _describe_image(im, mime, size, marker)
    except Image.DecompressionBombError as exc:
        raise MediaError("pixel_bomb", _bomb_message(None)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaError("corrupt", "This image is damaged or incomplete and cannot be opened.") from exc


def header_exif(im: Image.Image) -> Image.Exif:
    """EXIF without decoding pixels.

    Pillow's PNG ``getexif()`` decodes the whole image to look for an eXIf chunk after the pixel
    data, which would let a bomb allocate before the pixel check; only chunks before IDAT count.
    """
    if im.format == "PNG":
        exif = Image.Exif()
        if im.info.get("exif"):
            exif.load(im.info["exif"])
        return exif
    return im.getexif()


def _describe_image(im: Image.Image, mime: str, size: int, marker: str | None) -> MediaInfo:
    exif = header_exif(im)
    orientation = int(exif.get(0x0112, 1) or 1)
    width, height = im.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
    frames = int(getattr(im, "n_frames", 1) or 1)
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    return MediaInfo(
        kind="image",
        mime=mime,
        size_bytes=size,
        width=width,
        height=height,
        frames=frames,
        has_alpha=has_alpha,
        orientation=orientation,
        mode=im.mode,
        has_exif=len(exif) > 0,
        # 0x8825 is the GPS IFD pointer: present whenever a camera wrote a location.
        has_gps=0x8825 in exif,
        has_xmp=bool(xmp),
        has_icc=bool(im.info.get("icc_profile")),
        ai_marker=marker,
        codecs=(im.format.lower(),) if im.format else (),
    )


def _bomb_message(pixels: int | None) -> str:
    claimed = f" claims {pixels / 1e6:,.0f} megapixels and" if pixels else ""
    return (
        f"This image{claimed} is too large to process safely (a decompression bomb or an extreme "
        "resolution). Resize it below 120 megapixels and upload again."
    )


_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_VIDEO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+)(.*)")
_AUDIO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Audio: (\w+)")
_SIZE = re.compile(r"(?<![0-9x])(\d{2,5})x(\d{2,5})(?![0-9x])")
_FPS = re.compile(r"([\d.]+) fps")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")
_PIXFMT = re.compile(r"^\s*(yuv\w+|rgb\w+|bgr\w+|gray\w*|nv\w+|p0\w+)")


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped by imageio-ffmpeg, so workers never depend on a system package."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _probe_av(path: Path, mime: str, kind: Kind, size: int, marker: str | None, *, timeout_s: float) -> MediaInfo:
    """Parse ``ffmpeg -i`` output: imageio-ffmpeg ships ffmpeg but not ffprobe."""
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaError("timeout", "Reading this file took too long; it may be damaged.") from exc
    text = proc.stderr.decode("utf-8", "replace")
    if "Invalid data found" in text or "moov atom not found" in text or "Duration:" not in text:
        what = "video" if kind == "video" else "audio file"
        raise MediaError("corrupt", f"This {what} is damaged or incomplete and cannot be read.")
    duration = None
    match = _DURATION.search(text)
    if match:
        h, m, s = match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    video = _VIDEO_STREAM.search(text)
    audio = _AUDIO_STREAM.search(text)
    width = height = None
    fps = None
    pix_fmt = None
    rotation = 0
    if video:
        rest = video.group(2)
        dims = _SIZE.search(rest)
        if dims:
            width, height = int(dims.group(1)), int(dims.group(2))
        fps_match = _FPS.search(rest)
        fps = float(fps_match.group(1)) if fps_match else None
        fmt = _PIXFMT.match(rest.split(",", 1)[1] if "," in rest else "")
        pix_fmt = fmt.group(1) if fmt else None
        rot = _ROTATION.search(text)
        if rot:
            rotation = round(float(rot.group(1))) % 360
            if rotation in (90, 270) and width and height:
                width, height = height, width
    if video is None and kind == "video":
        if audio is None:
            raise MediaError("corrupt", "This video has no picture or sound we can read.")
        kind = "audio"
    video_codec = video.group(1) if video else None
    audio_codec = audio.group(1) if audio else None
    return MediaInfo(
        kind=kind,
        mime=mime,
        size_bytes=size,
        width=width,
        height=height,
        duration_s=duration,
        video_codec=video_codec,
        audio_codec=audio_codec,
        pixel_format=pix_fmt,
        fps=fps,
        rotation=rotation,
        ai_marker=marker,
        codecs=tuple(c for c in (video_codec, audio_codec) if c),
    )


# --- validation -----------------------------------------------------------------------------------


def validate(path: str | os.PathLike[str], limits: Limits | None = None) -> MediaInfo:
    """Accept or refuse an upload before anything is stored, with a message fit for the uploader.

    Checks run cheapest first: emptiness, sniffed type, byte size, the pixel count claimed by the
    header (before any decoding, so a bomb never allocates), then a real decode — every pixel of
    an image, the first seconds of a video — because a header can be intact over a truncated body.
    """
    limits = limits or Limits()
    info = probe_file(path, timeout_s=limits.ffmpeg_timeout_s)
    max_bytes = {
        "image": limits.max_image_bytes,
        "video": limits.max_video_bytes,
        "audio": limits.max_audio_bytes,
    }[info.kind]
    if info.size_bytes > max_bytes:
        raise MediaError(
            "too_large",
            f"This {info.kind} is {_mb(info.size_bytes)}; the limit is {_mb(max_bytes)}.",
        )
    if info.kind == "image":
        if info.pixels > limits.max_pixels:
            raise MediaError("pixel_bomb", _bomb_message(info.pixels))
        _decode_image_fully(Path(path))
    else:
        if info.kind == "video" and info.pixels > limits.max_video_pixels:
            raise MediaError("too_large", f"This video is {info.width}×{info.height}; the largest we take is 8K.")
        if info.duration_s is not None and info.duration_s > limits.max_video_duration_s:
            raise MediaError(
                "too_long",
                f"This {info.kind} lasts {format_duration(info.duration_s)}; "
                f"the limit is {format_duration(limits.max_video_duration_s)}.",
            )
        _decode_av_start(Path(path), info, limits)
    return info


def _decode_image_fully(path: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.format == "JPEG":
                    # DCT scaling still reads every entropy-coded byte (so truncation is caught)
                    # but allocates an eighth of the pixels.
                    im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
                im.load()
                for index in range(1, min(int(getattr(im, "n_frames", 1) or 1), 1000)):
                    im.seek(index)
                    im.load()
    except Image.DecompressionBombError as exc:
        raise MediaError("pixel_bomb", _bomb_message(None)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(
            "corrupt", "This image is damaged or incomplete (it may have been cut off during upload)."
        ) from exc


def _decode_av_start(path: Path, info: MediaInfo, limits: Limits) -> None:
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-xerror", "-i", str(path)]
    argv += ["-t", str(limits.video_decode_check_s), "-f", "null", "-"]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=limits.ffmpeg_timeout_s, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as exc:
        raise MediaError("timeout", "Checking this file took too long; it may be damaged.") from exc
    if proc.returncode != 0:
        what = "video" if info.kind == "video" else "audio file"
        raise MediaError("corrupt", f"This {what} is damaged or incomplete and cannot be played.")


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MB"


def format_duration(seconds: float) -> str:
    """Durations as people say them: "2 min 20 s", not "140.0"."""
    total = round(seconds)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
