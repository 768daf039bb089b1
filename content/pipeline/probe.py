"""What a file really is: MIME from its bytes, its dimensions and flags, and whether we accept it.

Everything here reads the file without trusting its name or the uploader's Content-Type, and
every refusal is a ``MediaError`` whose message can be shown to the person who uploaded.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import imageio_ffmpeg
from PIL import Image, ImageFile

from .headers import HeaderError, ImageHeader, format_pixels, gigapixels, read_image_header

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
    total_pixels: int = 0  # every frame and page together, as declared
    xmp: bytes | None = field(default=None, repr=False)  # the image's XMP packet, read from its headers
    demuxer: str | None = None  # the container ffmpeg recognised, for audio and video

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
    # What decoding every frame and page may cost: an animation composites each frame onto the
    # full canvas, so 100 frames of a 10000×10000 GIF are 10 gigapixels however small the file.
    max_total_pixels: int = 500_000_000
    max_frames: int = 1000
    max_video_pixels: int = 7680 * 4320
    max_video_duration_s: float = 3 * 3600
    # How much of a video is decoded to prove it is not corrupt; the whole file would cost minutes.
    video_decode_check_s: float = 3.0
    ffmpeg_timeout_s: float = 60.0
    # Address space for an ffmpeg that only reads headers: it decodes a frame or two to name the
    # pixel format, which a 8K frame fits in, and a forged 16K × 16K stream does not.
    probe_memory_bytes: int = 1024 * 1024 * 1024


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


def probe_file(path: str | os.PathLike[str], *, timeout_s: float | None = None,
               limits: Limits | None = None) -> MediaInfo:
    """Describe a file from its headers and metadata, without decoding pixels.

    Images are judged by what their structure declares for every frame and page, and refused
    here when that exceeds the frame or pixel limits, since describing a bomb with a decoder is
    the harm. Size and duration limits are ``validate``'s business.
    """
    limits = limits or Limits()
    path = Path(path)
    size, mime, kind = _sniffed(path)
    marker = find_ai_marker(path)
    if kind == "image":
        header = image_header(path, mime, limits)
        return _describe_image(path, mime, size, marker, header)
    return _probe_av(path, mime, kind, size, marker, limits=limits,
                     timeout_s=timeout_s if timeout_s is not None else limits.ffmpeg_timeout_s)


def _sniffed(path: Path) -> tuple[int, str, Kind]:
    """Size, type from the file's own bytes, and kind; refuses an empty or unsupported file."""
    size = path.stat().st_size
    if size == 0:
        raise MediaError("empty", "This file is empty (0 bytes). Upload it again.")
    mime = sniff(read_head(path))
    kind = kind_of(mime)
    if kind is None:
        raise MediaError("unsupported_type", _unsupported_message(mime))
    return size, mime, kind


def _unsupported_message(mime: str) -> str:
    looks_like = FOREIGN_TYPES.get(mime)
    if looks_like:
        return f"This file is not an image, video or audio file we accept (it looks like {looks_like})."
    return "This file is not an image, video or audio file we accept (its contents match no format we know)."


def image_header(path: str | os.PathLike[str], mime: str, limits: Limits) -> ImageHeader:
    """The image's declared frames, refused when they exceed the frame count, the size of any
    one frame, or the pixels of all frames together. Messages give the file's real numbers."""
    try:
        header = read_image_header(path, mime, max_frames=limits.max_frames)
    except HeaderError as exc:
        raise MediaError(exc.code, exc.message) from exc
    count = len(header.frames)
    if not header.frames_exact or count > limits.max_frames:
        raise MediaError(
            "too_many_frames",
            f"This image has more than {limits.max_frames:,} frames; the limit is {limits.max_frames:,}.",
        )
    index, width, height = header.largest_frame
    if width * height > limits.max_pixels:
        where = "This image" if count == 1 else f"Frame {index} of this {count}-frame image"
        raise MediaError(
            "pixel_bomb",
            f"{where} is {width}×{height} = {format_pixels(width * height)}; the limit is "
            f"{format_pixels(limits.max_pixels)} per frame. Resize it and upload again.",
        )
    total = header.total_pixels
    if total > limits.max_total_pixels:
        raise MediaError(
            "pixel_bomb",
            f"This image has {_frames_phrase(header.frames)} = {gigapixels(total)}; the limit is "
            f"{gigapixels(limits.max_total_pixels)} across all frames.",
        )
    return header


def _frames_phrase(frames: tuple[tuple[int, int], ...]) -> str:
    sizes = sorted(set(frames), key=lambda s: -s[0] * s[1])
    if len(sizes) == 1:
        w, h = sizes[0]
        return f"{len(frames)} frames of {w}×{h}"
    shown = ", ".join(f"{w}×{h}" for w, h in sizes[:3]) + (", …" if len(sizes) > 3 else "")
    return f"{len(frames)} frames ({shown})"


def exif_orientation(value: Any) -> int:
    """The EXIF Orientation as the 1-8 the standard allows, else 1 (as browsers show it).

    The tag is a SHORT by the standard, but the file decides its type: a DOUBLE holding +inf or
    NaN, a string or a list reached ``int()`` and crashed the upload and the renderer.
    """
    if isinstance(value, bool):
        return 1
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def parse_exif(data: bytes | None) -> Image.Exif:
    """An EXIF block as Pillow reads it, or an empty one when it cannot be read.

    Unreadable EXIF is no reason to refuse a photo: renditions strip it anyway.
    """
    exif = Image.Exif()
    if not data:
        return exif
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on corrupt EXIF; it is dropped either way
            exif.load(data if data.startswith(b"Exif") else b"Exif\x00\x00" + data)
            dict(exif)  # materialise now, so a broken IFD fails here and not in a caller
    except Exception:  # any parse failure means "no EXIF we can use"
        return Image.Exif()
    return exif


def header_exif(im: Image.Image) -> Image.Exif:
    """EXIF without decoding pixels.

    Pillow's PNG ``getexif()`` decodes the whole image to look for an eXIf chunk after the pixel
    data, which would let a bomb allocate before the pixel check; only chunks before IDAT count.
    """
    if im.format == "PNG":
        return parse_exif(im.info.get("exif"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exif = im.getexif()
            dict(exif)
    except Exception:  # see parse_exif
        return Image.Exif()
    return exif


# Formats whose Pillow opener reads headers only; WebP, HEIF and AVIF openers read the whole file
# into memory (and libwebp sizes its canvas), so their description comes from the header walk.
_PILLOW_HEADER_ONLY = frozenset({"image/jpeg", "image/png", "image/gif", "image/tiff"})


def _describe_image(path: Path, mime: str, size: int, marker: str | None, header: ImageHeader) -> MediaInfo:
    exif = parse_exif(header.exif)
    mode = None
    has_alpha = bool(header.extra.get("alpha"))
    has_icc = False
    xmp = header.xmp
    if mime in _PILLOW_HEADER_ONLY:
        try:
            with warnings.catch_warnings():
                # The pixel limits were applied to every frame above; Pillow's warning is noise.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as im:
                    mode = im.mode
                    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
                    has_icc = bool(im.info.get("icc_profile"))
                    xmp = xmp or im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
                    if mime == "image/tiff":
                        exif = header_exif(im)
        except Exception as exc:  # whatever Pillow trips on, the answer is "damaged"
            raise MediaError("corrupt", "This image is damaged or incomplete and cannot be opened.") from exc
    orientation = exif_orientation(exif.get(0x0112, 1))
    width, height = header.width, header.height
    if orientation in (5, 6, 7, 8) or header.rotation in (90, 270):
        width, height = height, width
    return MediaInfo(
        kind="image",
        mime=mime,
        size_bytes=size,
        width=width,
        height=height,
        frames=len(header.frames),
        has_alpha=has_alpha,
        orientation=orientation,
        mode=mode,
        has_exif=len(exif) > 0,
        # 0x8825 is the GPS IFD pointer: present whenever a camera wrote a location.
        has_gps=0x8825 in exif,
        has_xmp=bool(xmp),
        has_icc=has_icc,
        ai_marker=marker,
        codecs=("mpo",) if header.extra.get("mpo") else (header.format,),
        total_pixels=header.total_pixels,
        xmp=bytes(xmp) if isinstance(xmp, bytes | bytearray) else (xmp.encode() if isinstance(xmp, str) else None),
    )


# ``ffmpeg -i`` prints a file's metadata too, and a tag value may hold newlines: ffmpeg indents
# every continuation line and puts ": " first, so only lines that start with these can be ffmpeg's.
_INPUT = re.compile(r"^Input #0, (.+?), from '", re.M)
_DURATION = re.compile(r"^\s*Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)", re.M)
_STREAM = re.compile(r"^\s*Stream #0:\d+\S*: (Video|Audio|Data|Subtitle|Attachment): (\w+)(.*)$", re.M)
_SIZE = re.compile(r", (\d{1,6})x(\d{1,6})(?![0-9A-Za-z])")
_FPS = re.compile(r"([\d.]+) fps")
_ROTATION = re.compile(r"^\s*(?:display ?matrix: )?rotation of (-?[\d.]+) degrees", re.M | re.I)
_PIXFMT = re.compile(r"^\s*(yuv\w+|rgb\w+|bgr\w+|gray\w*|nv\w+|p0\w+)")

# The container ffmpeg must find for each type we sniff: a file that starts like one format and
# is another underneath (an ID3 tag in front of a video) is refused instead of filed as audio.
_MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"
DEMUXERS = {
    "video/mp4": _MP4_FAMILY,
    "video/quicktime": _MP4_FAMILY,
    "video/3gpp": _MP4_FAMILY,
    "audio/mp4": _MP4_FAMILY,
    "video/webm": "matroska,webm",
    "video/x-matroska": "matroska,webm",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
}
MIME_NAMES = {
    "video/mp4": "an MP4 video", "video/quicktime": "a QuickTime video", "video/3gpp": "a 3GP video",
    "audio/mp4": "M4A audio", "video/webm": "a WebM video", "video/x-matroska": "a Matroska video",
    "audio/mpeg": "MP3 audio", "audio/wav": "WAV audio", "audio/ogg": "Ogg audio", "audio/flac": "FLAC audio",
}

# Sets the address-space limit, then becomes the real program: a child process limited without a
# ``preexec_fn`` (which is unsafe in a threaded web server).
_LAUNCHER = (
    "import os,resource,sys;m=int(sys.argv[1]);"
    "resource.setrlimit(resource.RLIMIT_AS,(m,m));os.execv(sys.argv[2],sys.argv[2:])"
)


def memory_limited(argv: list[str], memory_bytes: int | None) -> list[str]:
    """``argv`` run under an address-space limit (Linux); unchanged elsewhere or without a limit."""
    if not memory_bytes or not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(int(memory_bytes)), *argv]


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped by imageio-ffmpeg, so workers never depend on a system package."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True, slots=True)
class _Stream:
    type: str
    codec: str
    width: int
    height: int
    attached_pic: bool
    rest: str


def _streams(text: str) -> list[_Stream]:
    streams = []
    for match in _STREAM.finditer(text):
        kind, codec, rest = match.groups()
        width = height = 0
        if kind == "Video":
            dims = _SIZE.search(rest)
            if dims:
                width, height = int(dims.group(1)), int(dims.group(2))
        streams.append(_Stream(kind, codec, width, height, "(attached pic)" in rest, rest))
    return streams


def _probe_av(path: Path, mime: str, kind: Kind, size: int, marker: str | None, *, limits: Limits,
              timeout_s: float) -> MediaInfo:
    """What ffmpeg finds in the streams (imageio-ffmpeg ships ffmpeg, not ffprobe, so its ``-i``
    report is read), checked against what the magic bytes said and against the video limits."""
    argv = memory_limited([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], limits.probe_memory_bytes)
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)  # noqa: S603 - fixed argv
    except subprocess.TimeoutExpired as exc:
        raise MediaError("timeout",
                         f"Reading this file took longer than {timeout_s:.0f} s; it may be damaged.") from exc
    text = proc.stderr.decode("utf-8", "replace")
    what = "video" if kind == "video" else "audio file"
    demuxer_match = _INPUT.search(text)
    if demuxer_match is None or _DURATION.search(text) is None:
        raise MediaError("corrupt", f"This {what} is damaged or incomplete and cannot be read.")
    demuxer = demuxer_match.group(1)
    streams = _streams(text)
    pictures = [s for s in streams if s.type == "Video" and not s.attached_pic]
    covers = [s for s in streams if s.type == "Video" and s.attached_pic]
    sounds = [s for s in streams if s.type == "Audio"]
    expected = DEMUXERS.get(mime)
    if expected is not None and demuxer != expected:
        found = f"a {pictures[0].width}×{pictures[0].height} video" if pictures else f"{demuxer} data"
        raise MediaError(
            "type_mismatch",
            f"This file starts like {MIME_NAMES.get(mime, mime)} but holds {found} ({demuxer}). "
            "Export it again in one format and upload that.",
        )
    if kind == "audio" and pictures:
        first = pictures[0]
        raise MediaError(
            "type_mismatch",
            f"This file starts like {MIME_NAMES.get(mime, mime)} but holds a {first.width}×{first.height} "
            "video stream. Upload videos as MP4, MOV or WebM.",
        )
    for stream in pictures:
        if not stream.width or not stream.height:
            raise MediaError("corrupt", "This video's picture size cannot be read; it may be damaged.")
        if stream.width * stream.height > limits.max_video_pixels:
            raise MediaError(
                "too_large",
                f"This video is {stream.width}×{stream.height} = {format_pixels(stream.width * stream.height)}; "
                f"the limit is {format_pixels(limits.max_video_pixels)} (8K, 7680×4320).",
            )
    for cover in covers:
        if cover.width * cover.height > limits.max_pixels:
            raise MediaError(
                "pixel_bomb",
                f"This file's cover picture is {cover.width}×{cover.height} = "
                f"{format_pixels(cover.width * cover.height)}; the limit is {format_pixels(limits.max_pixels)}.",
            )
    if kind == "video" and not pictures:
        if not sounds:
            raise MediaError("corrupt", "This video has no picture or sound we can read.")
        kind = "audio"
    if kind == "audio" and not sounds:
        raise MediaError("corrupt", "This audio file has no sound we can read.")
    duration = None
    match = _DURATION.search(text)
    if match:
        h, m, sec = match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(sec)
    video = pictures[0] if pictures else None
    width = height = None
    fps = None
    pix_fmt = None
    rotation = 0
    if video is not None:
        width, height = video.width, video.height
        fps_match = _FPS.search(video.rest)
        fps = float(fps_match.group(1)) if fps_match else None
        fmt = _PIXFMT.match(video.rest.split(",", 1)[1] if "," in video.rest else "")
        pix_fmt = fmt.group(1) if fmt else None
        rot = _ROTATION.search(text)
        if rot:
            rotation = round(float(rot.group(1))) % 360
            if rotation in (90, 270):
                width, height = height, width
    video_codec = video.codec if video else None
    audio_codec = sounds[0].codec if sounds else None
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
        demuxer=demuxer,
    )


# --- validation -----------------------------------------------------------------------------------


def validate(path: str | os.PathLike[str], limits: Limits | None = None) -> MediaInfo:
    """Accept or refuse an upload before anything is stored, with a message fit for the uploader.

    Runs in the web request, so it reads headers only and decodes nothing: emptiness, the sniffed
    type, the byte size, then what the structure declares (every frame's size and the pixels of
    all of them for images; the container and every stream, per ffmpeg, for audio and video).
    Decoding, which proves the pixel data is sound, happens in the worker under memory and time
    limits (``verify_decode``).
    """
    limits = limits or Limits()
    path = Path(path)
    size, _, kind = _sniffed(path)
    max_bytes = {
        "image": limits.max_image_bytes,
        "video": limits.max_video_bytes,
        "audio": limits.max_audio_bytes,
    }[kind]
    if size > max_bytes:
        shown, limit = _mb(size), _mb(max_bytes)
        if shown == limit:  # just over: megabytes would read "200.0 MB; the limit is 200.0 MB"
            shown, limit = f"{size:,} bytes", f"{max_bytes:,} bytes"
        raise MediaError("too_large", f"This {kind} is {shown}; the limit is {limit}.")
    info = probe_file(path, limits=limits)
    if info.kind != "image" and info.duration_s is not None and info.duration_s > limits.max_video_duration_s:
        raise MediaError(
            "too_long",
            f"This {info.kind} lasts {format_duration(info.duration_s)}; "
            f"the limit is {format_duration(limits.max_video_duration_s)}.",
        )
    return info


def verify_decode(path: str | os.PathLike[str], limits: Limits | None = None) -> MediaInfo:
    """Decode the file to prove its data is whole: every frame of an image, the first seconds of
    audio or video. For the worker, under its memory and time limits; never in a web request."""
    limits = limits or Limits()
    info = probe_file(path, limits=limits)
    if info.kind == "image":
        _decode_image_fully(Path(path), info)
    else:
        _decode_av_start(Path(path), info, limits)
    return info


def _decode_image_fully(path: Path, info: MediaInfo) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.format == "JPEG":
                    # DCT scaling still reads every entropy-coded byte (so truncation is caught)
                    # but allocates an eighth of the pixels.
                    im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
                im.load()
                for index in range(1, info.frames):
                    im.seek(index)
                    im.load()
    except Image.DecompressionBombError as exc:
        raise MediaError("pixel_bomb", "This image is too large to process safely.") from exc
    except MemoryError:
        raise
    except Exception as exc:  # any decoder failure means the data is not sound
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
