"""What an image file declares, read from its structure alone: every frame's size, never a pixel.

The upload request must judge a file without decoding it, because decoding is where a few
kilobytes become gigabytes: a 2 KB GIF whose 100 one-pixel frames each composite onto a
10000×10000 screen, an animated WebP whose frames do the same, a TIFF or MPO whose first page is
8×8 and whose second is 169 megapixels. So each format is walked here chunk by chunk, segment by
segment, seeking over image data, to list what a decoder would allocate for every frame or page:

- GIF, APNG, animated WebP: decoders composite every frame onto the full canvas, so each frame
  costs the canvas;
- TIFF pages, MPO pictures, HEIF/AVIF items: each costs its own declared size.

The walk also proves the structure is whole (a file cut off during upload is refused here, not
after it was stored) and picks up the few metadata blocks ingest needs (EXIF for orientation, XMP
for a declared AI origin), each bounded in size. Nothing here uses Pillow or Django.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

# Metadata is kept only up to these sizes; a file whose headers are larger is refused, since no
# camera or editor writes that much before the pixels and a parser that keeps it all could be
# made to hold the whole upload in memory.
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_XMP_BYTES = 1024 * 1024
MAX_EXIF_BYTES = 256 * 1024
_SCAN_CHUNK = 1024 * 1024


class HeaderError(Exception):
    """The structure is broken or cut off; ``code`` is ``corrupt`` or ``too_many_frames``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _cut_off() -> HeaderError:
    return HeaderError("corrupt", "This image is damaged or incomplete (it may have been cut off during upload).")


def _damaged(detail: str) -> HeaderError:
    return HeaderError("corrupt", f"This image is damaged and cannot be read ({detail}).")


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """The declared shape of an image file.

    ``frames`` lists, per frame or page, the (width, height) a decoder allocates for it;
    ``width``/``height`` are the stored size of the image shown (the first frame, or the primary
    item of a HEIF), before EXIF orientation. ``frames_exact`` is False when counting stopped at
    the frame limit.
    """

    format: str
    width: int
    height: int
    frames: tuple[tuple[int, int], ...]
    frames_exact: bool = True
    exif: bytes | None = None
    xmp: bytes | None = None
    rotation: int = 0  # HEIF ``irot``, in degrees anticlockwise
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def total_pixels(self) -> int:
        """Every pixel a full decode of every frame would produce."""
        return sum(w * h for w, h in self.frames)

    @property
    def largest_frame(self) -> tuple[int, int, int]:
        """(index from 1, width, height) of the frame with the most pixels."""
        index, (w, h) = max(enumerate(self.frames, 1), key=lambda item: item[1][0] * item[1][1])
        return index, w, h


class _Reader:
    """Bounded reads over a seekable file: a read past the end is a cut-off file, never a short read."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh = fh
        self.size = size

    def tell(self) -> int:
        return self.fh.tell()

    def seek(self, offset: int) -> None:
        if offset < 0 or offset > self.size:
            raise _cut_off()
        self.fh.seek(offset)

    def skip(self, n: int) -> None:
        self.seek(self.tell() + n)

    def read(self, n: int) -> bytes:
        if n < 0 or self.tell() + n > self.size:
            raise _cut_off()
        data = self.fh.read(n)
        if len(data) != n:
            raise _cut_off()
        return data

    def remaining(self) -> int:
        return self.size - self.tell()


def read_image_header(path: str | os.PathLike[str], mime: str, *, max_frames: int) -> ImageHeader:
    """Walk the file's structure for ``mime`` (already sniffed from its magic bytes).

    Counting stops one frame past ``max_frames`` so a file of millions of tiny frames costs no
    more to refuse than one at the limit.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as raw:
        reader = _Reader(io.BufferedReader(raw, 64 * 1024), size)
        scanner = _SCANNERS.get(mime)
        if scanner is None:
            raise HeaderError("corrupt", "This image format cannot be checked.")
        try:
            return scanner(reader, max_frames)
        except struct.error as exc:
            raise _cut_off() from exc
        except (IndexError, ValueError, KeyError, OverflowError) as exc:
            # A field that points outside its box or segment: the structure is broken, whatever the
            # exact spot; never an error page.
            raise _damaged("its structure is inconsistent") from exc


def _limit_frames(count: int, max_frames: int) -> bool:
    """True while counting may go on; one past the limit is enough to refuse."""
    return count <= max_frames


# --- JPEG and MPO -----------------------------------------------------------------------------------

_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_EXIF_ID = b"Exif\x00\x00"
_XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"


@dataclass
class _JpegSegments:
    size: tuple[int, int] | None = None
    exif: bytes | None = None
    xmp: bytes | None = None
    mpf: bytes | None = None
    mpf_at: int = 0  # file offset where MP offsets count from
    scan_at: int = 0


def _jpeg_segments(r: _Reader, start: int) -> _JpegSegments:
    """Segments from SOI to the first scan: the frame header, EXIF, XMP and the MPF index."""
    r.seek(start)
    if r.read(2) != b"\xff\xd8":
        raise _damaged("no JPEG start marker")
    found = _JpegSegments()
    header_bytes = 0
    while True:
        byte = r.read(1)
        if byte != b"\xff":
            raise _damaged("a JPEG segment does not start with a marker")
        marker = r.read(1)[0]
        while marker == 0xFF:  # fill bytes
            marker = r.read(1)[0]
        if marker in (0x01, *range(0xD0, 0xD8)):
            continue
        if marker == 0xD9:
            raise _damaged("the JPEG ends before any image data")
        length = struct.unpack(">H", r.read(2))[0]
        if length < 2:
            raise _damaged("a JPEG segment has an impossible length")
        at = r.tell()
        payload_len = length - 2
        header_bytes += length
        if header_bytes > MAX_HEADER_BYTES:
            raise HeaderError("corrupt", "This image carries more metadata than any camera writes; "
                                         "export it again without it.")
        if marker in _SOF_MARKERS:
            payload = r.read(min(payload_len, 6))
            height, width = struct.unpack(">HH", payload[1:5])
            if width == 0 or height == 0:
                raise _damaged("the JPEG declares a zero size")
            found.size = (width, height)
        elif marker == 0xE1 and (found.exif is None or found.xmp is None):
            payload = r.read(payload_len)  # at most 64 KB: the length field is 16 bits
            if payload.startswith(_EXIF_ID) and found.exif is None:
                found.exif = payload[len(_EXIF_ID):]
            elif payload.startswith(_XMP_ID) and found.xmp is None:
                found.xmp = payload[len(_XMP_ID):]
        elif marker == 0xE2 and found.mpf is None and payload_len >= 8:
            head = r.read(4)
            if head == b"MPF\x00":
                found.mpf_at = r.tell()
                found.mpf = r.read(payload_len - 4)
        elif marker == 0xDA:
            if found.size is None:
                raise _damaged("the JPEG has image data before its frame header")
            found.scan_at = at + payload_len
            return found
        r.seek(at + payload_len)


def _has_end_marker(r: _Reader, start: int, end: int) -> bool:
    """Whether an end-of-image marker follows the first scan.

    Entropy-coded data never holds FF D9 (an FF there is stuffed with 00 or starts a restart
    marker), so its presence after the first scan means the pixel data was not cut off. Read in
    chunks: a 200 MB photo is scanned without being held in memory.
    """
    r.seek(start)
    tail = b""
    while r.tell() < end:
        chunk = r.fh.read(min(_SCAN_CHUNK, end - r.tell()))
        if not chunk:
            break
        found = (tail + chunk).find(b"\xff\xd9")
        if found >= 0:
            return True
        tail = chunk[-1:]
    return False


def _scan_jpeg(r: _Reader, max_frames: int) -> ImageHeader:
    first = _jpeg_segments(r, 0)
    assert first.size is not None
    frames = [first.size]
    exact = True
    if first.mpf is not None:
        offsets = _mpf_offsets(first.mpf, first.mpf_at, r.size)
        for index, (offset, length) in enumerate(offsets[1:], 2):
            if not _limit_frames(index, max_frames):
                exact = False
                break
            picture = _jpeg_segments(r, offset)
            assert picture.size is not None
            if not _has_end_marker(r, picture.scan_at, offset + length):
                raise _cut_off()
            frames.append(picture.size)
    if not _has_end_marker(r, first.scan_at, r.size):
        raise _cut_off()
    return ImageHeader("jpeg", first.size[0], first.size[1], tuple(frames), exact, exif=first.exif,
                       xmp=first.xmp, extra={"mpo": first.mpf is not None and len(frames) > 1})


def _mpf_offsets(mpf: bytes, base: int, file_size: int) -> list[tuple[int, int]]:
    """(absolute offset, length) of every picture an MPO index lists (CIPA DC-007, the MP Entry tag)."""
    order = {b"II": "<", b"MM": ">"}.get(mpf[:2])
    if order is None or len(mpf) < 8:
        raise _damaged("the multi-picture index is unreadable")
    ifd = struct.unpack(order + "I", mpf[4:8])[0]
    if ifd + 2 > len(mpf):
        raise _damaged("the multi-picture index is unreadable")
    count = struct.unpack(order + "H", mpf[ifd : ifd + 2])[0]
    entries = None
    for i in range(count):
        at = ifd + 2 + 12 * i
        if at + 12 > len(mpf):
            raise _damaged("the multi-picture index is unreadable")
        tag, _kind, n, value = struct.unpack(order + "HHII", mpf[at : at + 12])
        if tag == 0xB002:
            if value + n > len(mpf) or n % 16:
                raise _damaged("the multi-picture index is unreadable")
            entries = mpf[value : value + n]
    if entries is None:
        return [(0, file_size)]
    pictures = []
    for i in range(0, len(entries), 16):
        _attr, length, offset = struct.unpack(order + "III", entries[i : i + 12])
        absolute = 0 if i == 0 else base + offset
        if absolute + length > file_size or length < 4:
            raise _cut_off()
        pictures.append((absolute, length))
    return pictures


# --- PNG and APNG -----------------------------------------------------------------------------------


def _scan_png(r: _Reader, max_frames: int) -> ImageHeader:
    r.seek(8)
    width = height = 0
    exif = xmp = None
    animated = False
    frame_controls = 0
    default_in_animation = False
    seen_idat = False
    header_bytes = 0
    while True:
        length, kind = struct.unpack(">I4s", r.read(8))
        if length > 0x7FFFFFFF:
            raise _damaged("a PNG chunk has an impossible length")
        at = r.tell()
        if kind not in (b"IDAT", b"fdAT"):
            header_bytes += length
            if header_bytes > MAX_HEADER_BYTES:
                raise HeaderError("corrupt", "This image carries more metadata than any camera writes; "
                                             "export it again without it.")
        if kind == b"IHDR":
            width, height = struct.unpack(">II", r.read(8))
            if width == 0 or height == 0:
                raise _damaged("the PNG declares a zero size")
        elif width == 0:
            raise _damaged("the PNG header chunk is missing")
        elif kind == b"acTL":
            animated = True
        elif kind == b"fcTL":
            fw, fh, fx, fy = struct.unpack(">4xIIII", r.read(20))
            if fw == 0 or fh == 0 or fx + fw > width or fy + fh > height:
                raise _damaged("an animation frame lies outside the image")
            frame_controls += 1
            if not seen_idat:
                default_in_animation = True
            if not _limit_frames(frame_controls + 1, max_frames):
                return _png_header(width, height, max_frames + 1, False, exif, xmp)
        elif kind == b"IDAT":
            seen_idat = True
        elif kind == b"eXIf" and exif is None and length <= MAX_EXIF_BYTES:
            exif = r.read(length)
        elif kind == b"iTXt" and xmp is None and length <= MAX_XMP_BYTES:
            xmp = _png_xmp(r.read(length))
        elif kind == b"IEND":
            break
        r.seek(at + length + 4)  # data and CRC
    if not seen_idat:
        raise _damaged("the PNG holds no image data")
    # Pillow shows the default image as frame 1 even when it is not part of the animation.
    frames = max(1, frame_controls + (0 if default_in_animation else 1)) if animated else 1
    return _png_header(width, height, frames, True, exif, xmp)


def _png_header(width: int, height: int, frames: int, exact: bool, exif: bytes | None,
                xmp: bytes | None) -> ImageHeader:
    return ImageHeader("png", width, height, ((width, height),) * frames, exact, exif=exif, xmp=xmp)


def _png_xmp(data: bytes) -> bytes | None:
    keyword, _, rest = data.partition(b"\x00")
    if keyword != b"XML:com.adobe.xmp" or len(rest) < 2 or rest[0] != 0:  # compressed XMP is not read here
        return None
    _lang, _, rest = rest[2:].partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    return text


# --- GIF --------------------------------------------------------------------------------------------


def _skip_sub_blocks(r: _Reader) -> None:
    while True:
        n = r.read(1)[0]
        if n == 0:
            return
        r.skip(n)


def _scan_gif(r: _Reader, max_frames: int) -> ImageHeader:
    r.seek(6)
    width, height, flags = struct.unpack("<HHB", r.read(5))
    r.skip(2)
    if flags & 0x80:
        r.skip(3 << ((flags & 7) + 1))
    canvas_w, canvas_h = width, height
    frames = 0
    exact = True
    while True:
        if r.remaining() == 0:
            break  # many encoders omit the trailer; decoders stop here too
        block = r.read(1)[0]
        if block == 0x3B:
            break
        if block == 0x21:
            r.skip(1)
            _skip_sub_blocks(r)
        elif block == 0x2C:
            x, y, w, h, local = struct.unpack("<HHHHB", r.read(9))
            # A frame that reaches past the screen grows the canvas every frame is composited on.
            canvas_w, canvas_h = max(canvas_w, x + w), max(canvas_h, y + h)
            if local & 0x80:
                r.skip(3 << ((local & 7) + 1))
            r.skip(1)  # LZW minimum code size
            _skip_sub_blocks(r)
            frames += 1
            if not _limit_frames(frames, max_frames):
                exact = False
                break
        else:
            raise _damaged("an unknown GIF block")
    if frames == 0:
        raise _damaged("the GIF holds no image")
    if canvas_w == 0 or canvas_h == 0:
        raise _damaged("the GIF declares a zero size")
    return ImageHeader("gif", width or canvas_w, height or canvas_h, ((canvas_w, canvas_h),) * frames, exact)


# --- WebP -------------------------------------------------------------------------------------------


def _u24(data: bytes) -> int:
    return data[0] | data[1] << 8 | data[2] << 16


def _webp_bitstream_size(fourcc: bytes, head: bytes) -> tuple[int, int]:
    if fourcc == b"VP8 ":
        if len(head) < 10 or head[3:6] != b"\x9d\x01\x2a":
            raise _damaged("the WebP image data is unreadable")
        w, h = struct.unpack("<HH", head[6:10])
        return w & 0x3FFF, h & 0x3FFF
    if len(head) < 5 or head[0] != 0x2F:
        raise _damaged("the WebP image data is unreadable")
    bits = struct.unpack("<I", head[1:5])[0]
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1


def _riff_chunks(r: _Reader, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(fourcc, data offset, data length) for each chunk in [start, end)."""
    at = start
    while at < end:
        if at + 8 > end:
            raise _cut_off()
        r.seek(at)
        fourcc, length = struct.unpack("<4sI", r.read(8))
        if at + 8 + length > end:
            raise _cut_off()
        yield fourcc, at + 8, length
        at += 8 + length + (length & 1)


def _scan_webp(r: _Reader, max_frames: int) -> ImageHeader:
    r.seek(4)
    riff_size = struct.unpack("<I", r.read(4))[0]
    end = 8 + riff_size
    if end > r.size:
        raise _cut_off()
    canvas: tuple[int, int] | None = None
    still: tuple[int, int] | None = None
    exif = xmp = None
    alpha = False
    frames = 0
    exact = True
    for fourcc, at, length in _riff_chunks(r, 12, end):
        r.seek(at)
        if fourcc == b"VP8X":
            head = r.read(10)
            canvas = (_u24(head[4:7]) + 1, _u24(head[7:10]) + 1)
            alpha = bool(head[0] & 0x10)
        elif fourcc in (b"VP8 ", b"VP8L") and still is None:
            head = r.read(min(length, 10))
            still = _webp_bitstream_size(fourcc, head)
            alpha = alpha or (fourcc == b"VP8L" and bool(head[4] & 0x10))
        elif fourcc == b"ANMF":
            if length < 16:
                raise _damaged("an animation frame is unreadable")
            head = r.read(16)
            fx, fy = _u24(head[0:3]) * 2, _u24(head[3:6]) * 2
            fw, fh = _u24(head[6:9]) + 1, _u24(head[9:12]) + 1
            if canvas is None or fx + fw > canvas[0] or fy + fh > canvas[1]:
                raise _damaged("an animation frame lies outside the image")
            frames += 1
            if not _limit_frames(frames, max_frames):
                exact = False
                break
        elif fourcc == b"EXIF" and exif is None and length <= MAX_EXIF_BYTES:
            data = r.read(length)
            exif = data[len(_EXIF_ID):] if data.startswith(_EXIF_ID) else data
        elif fourcc == b"XMP " and xmp is None and length <= MAX_XMP_BYTES:
            xmp = r.read(length)
    size = canvas or still
    if size is None:
        raise _damaged("the WebP holds no image")
    if frames == 0 and still is None:
        raise _damaged("the WebP holds no image")
    return ImageHeader("webp", size[0], size[1], (size,) * max(1, frames), exact, exif=exif, xmp=xmp,
                       extra={"alpha": alpha})


# --- TIFF -------------------------------------------------------------------------------------------

_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_STRIPS = 1_000_000


def _scan_tiff(r: _Reader, max_frames: int) -> ImageHeader:
    order = "<" if r.read(2) == b"II" else ">"
    r.skip(2)
    offset = struct.unpack(order + "I", r.read(4))[0]
    frames: list[tuple[int, int]] = []
    seen: set[int] = set()
    orientation = None
    exact = True
    while offset:
        if offset in seen:
            raise _damaged("the TIFF pages loop back on themselves")
        seen.add(offset)
        r.seek(offset)
        count = struct.unpack(order + "H", r.read(2))[0]
        tags: dict[int, tuple[int, int, bytes]] = {}
        for _ in range(count):
            tag, kind, n = struct.unpack(order + "HHI", r.read(8))
            tags[tag] = (kind, n, r.read(4))
        offset = struct.unpack(order + "I", r.read(4))[0]
        width, height = (_tiff_scalar(order, tags.get(t)) for t in (256, 257))
        if not width or not height:
            raise _damaged("a TIFF page declares no size")
        frames.append((width, height))
        if len(frames) == 1:
            orientation = _tiff_scalar(order, tags.get(274))
        _check_tiff_data(r, order, tags)
        if not _limit_frames(len(frames), max_frames):
            exact = False
            break
    if not frames:
        raise _damaged("the TIFF holds no page")
    return ImageHeader("tiff", frames[0][0], frames[0][1], tuple(frames), exact,
                       extra={"orientation": orientation or 1})


def _tiff_scalar(order: str, entry: tuple[int, int, bytes] | None) -> int | None:
    if entry is None:
        return None
    kind, n, raw = entry
    if n < 1:
        return None
    if kind == 3:
        return struct.unpack(order + "H", raw[:2])[0]
    if kind == 4:
        return struct.unpack(order + "I", raw)[0]
    return None


def _tiff_values(r: _Reader, order: str, entry: tuple[int, int, bytes]) -> list[int]:
    kind, n, raw = entry
    if kind not in (3, 4) or n > _MAX_STRIPS:
        raise _damaged("a TIFF page's data table is unreadable")
    fmt = "H" if kind == 3 else "I"
    size = _TIFF_TYPE_SIZES[kind] * n
    if size <= 4:
        data = raw[:size]
    else:
        back = r.tell()
        r.seek(struct.unpack(order + "I", raw)[0])
        data = r.read(size)
        r.seek(back)
    return list(struct.unpack(f"{order}{n}{fmt}", data))


def _check_tiff_data(r: _Reader, order: str, tags: dict[int, tuple[int, int, bytes]]) -> None:
    """Every strip or tile of a page must lie inside the file: a cut-off TIFF fails here."""
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        if offsets_tag in tags and counts_tag in tags:
            offsets = _tiff_values(r, order, tags[offsets_tag])
            counts = _tiff_values(r, order, tags[counts_tag])
            if len(offsets) != len(counts):
                raise _damaged("a TIFF page's data table is inconsistent")
            if any(o + c > r.size for o, c in zip(offsets, counts, strict=True)):
                raise _cut_off()
            return
    raise _damaged("a TIFF page has no image data")


# --- HEIF and AVIF (ISO base media) -------------------------------------------------------------

_MAX_META_BYTES = 16 * 1024 * 1024
_CODED_ITEM_TYPES = frozenset({b"hvc1", b"av01", b"grid", b"iden", b"iovl", b"jpeg", b"avc1", b"unci", b"vvc1"})


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in ``data[start:end]``."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1:
            if at + 16 > end:
                raise _cut_off()
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise _cut_off()
        yield kind, at + header, at + size
        at += size
    if at != end:
        raise _cut_off()


def _scan_isobmff(r: _Reader, max_frames: int) -> ImageHeader:
    """Top-level boxes by seeking; the ``meta`` box (item sizes) and ``moov`` (image sequences) read whole."""
    meta = moov = None
    at = 0
    while at < r.size:
        r.seek(at)
        size, kind = struct.unpack(">I4s", r.read(8))
        header = 8
        if size == 1:
            size = struct.unpack(">Q", r.read(8))[0]
            header = 16
        elif size == 0:
            size = r.size - at
        if size < header or at + size > r.size:
            raise _cut_off()
        if kind in (b"meta", b"moov"):
            if size > _MAX_META_BYTES:
                raise HeaderError("corrupt", "This image carries more metadata than any camera writes; "
                                             "export it again without it.")
            body = r.read(size - header)
            if kind == b"meta":
                meta = body
            else:
                moov = body
        at += size
    frames: list[tuple[int, int]] = []
    primary = None
    rotation = 0
    if meta is not None:
        primary, rotation, frames = _heif_items(meta)
    if moov is not None:
        frames += _sequence_frames(moov, max_frames)
    if not frames:
        raise _damaged("the file declares no image size")
    exact = len(frames) <= max_frames
    if primary is None:
        primary = frames[0]
    return ImageHeader("heif", primary[0], primary[1], tuple(frames[: max_frames + 1]), exact, rotation=rotation)


def _heif_items(meta: bytes) -> tuple[tuple[int, int] | None, int, list[tuple[int, int]]]:
    """The primary item's size and rotation, and the size of every coded image item."""
    primary_id = None
    item_types: dict[int, bytes] = {}
    properties: list[tuple[bytes, bytes]] = []
    associations: dict[int, list[int]] = {}
    for kind, start, end in _boxes(meta, 4):  # meta is a full box: version and flags first
        body = meta[start:end]
        if kind == b"pitm":
            primary_id = struct.unpack(">H", body[4:6])[0] if body[0] == 0 else struct.unpack(">I", body[4:8])[0]
        elif kind == b"iinf":
            first = 6 if body[0] == 0 else 8
            for entry, e_start, e_end in _boxes(body, first):
                if entry == b"infe":
                    item_id, item_type = _infe(body[e_start:e_end])
                    if item_id is not None:
                        item_types[item_id] = item_type
        elif kind == b"iprp":
            for sub, s_start, s_end in _boxes(body):
                if sub == b"ipco":
                    properties = [(p, body[p_start:p_end]) for p, p_start, p_end in _boxes(body, s_start, s_end)]
                elif sub == b"ipma":
                    associations.update(_ipma(body[s_start:s_end]))
    sizes: dict[int, tuple[int, int]] = {}
    rotations: dict[int, int] = {}
    cropped: dict[int, tuple[int, int]] = {}
    for item_id, indexes in associations.items():
        for index in indexes:
            if not 1 <= index <= len(properties):
                continue
            kind, body = properties[index - 1]
            if kind == b"ispe" and len(body) >= 12:
                sizes[item_id] = struct.unpack(">II", body[4:12])
            elif kind == b"irot" and body:
                rotations[item_id] = (body[0] & 3) * 90
            elif kind == b"clap" and len(body) >= 16:
                # The clean aperture: coded HEVC sizes are padded to whole blocks, the picture is not.
                wn, wd, hn, hd = struct.unpack(">IIII", body[:16])
                if wd and hd and wn // wd and hn // hd:
                    cropped[item_id] = (round(wn / wd), round(hn / hd))
    frames = [sizes[i] for i in sorted(sizes) if item_types.get(i, b"hvc1") in _CODED_ITEM_TYPES]
    if any(w == 0 or h == 0 for w, h in frames):
        raise _damaged("an image item declares a zero size")
    primary = None
    if primary_id is not None:
        primary = cropped.get(primary_id) or sizes.get(primary_id)
    return primary, rotations.get(primary_id, 0) if primary_id is not None else 0, frames


def _infe(body: bytes) -> tuple[int | None, bytes]:
    version = body[0]
    if version < 2:
        return None, b""
    if version == 2:
        return struct.unpack(">H", body[4:6])[0], body[8:12]
    return struct.unpack(">I", body[4:8])[0], body[10:14]


def _ipma(body: bytes) -> dict[int, list[int]]:
    version, flags = body[0], int.from_bytes(body[1:4], "big")
    count = struct.unpack(">I", body[4:8])[0]
    at = 8
    out: dict[int, list[int]] = {}
    for _ in range(count):
        if version < 1:
            item_id = struct.unpack(">H", body[at : at + 2])[0]
            at += 2
        else:
            item_id = struct.unpack(">I", body[at : at + 4])[0]
            at += 4
        n = body[at]
        at += 1
        indexes = []
        for _ in range(n):
            if flags & 1:
                indexes.append(struct.unpack(">H", body[at : at + 2])[0] & 0x7FFF)
                at += 2
            else:
                indexes.append(body[at] & 0x7F)
                at += 1
        out[item_id] = indexes
    return out


def _sequence_frames(moov: bytes, max_frames: int) -> list[tuple[int, int]]:
    """An image sequence (animated AVIF/HEIF): each visual track's size times its sample count."""
    frames: list[tuple[int, int]] = []
    for kind, start, end in _boxes(moov):
        if kind != b"trak":
            continue
        size = None
        samples = 0
        for path_kind, body in _walk(moov[start:end], (b"mdia", b"minf", b"stbl")):
            if path_kind == b"tkhd":
                w, h = (body[-8:-4], body[-4:])
                size = (struct.unpack(">I", w)[0] >> 16, struct.unpack(">I", h)[0] >> 16)
            elif path_kind == b"stsz":
                samples = struct.unpack(">I", body[8:12])[0]
        if size and size[0] and size[1]:
            frames += [size] * min(samples, max_frames + 1)
    return frames


def _walk(data: bytes, containers: tuple[bytes, ...]) -> Iterator[tuple[bytes, bytes]]:
    for kind, start, end in _boxes(data):
        if kind in containers:
            yield from _walk(data[start:end], containers)
        else:
            yield kind, data[start:end]


_SCANNERS = {
    "image/jpeg": _scan_jpeg,
    "image/png": _scan_png,
    "image/gif": _scan_gif,
    "image/webp": _scan_webp,
    "image/tiff": _scan_tiff,
    "image/heic": _scan_isobmff,
    "image/heif": _scan_isobmff,
    "image/avif": _scan_isobmff,
}


def format_pixels(pixels: int) -> str:
    """Megapixels below a gigapixel, gigapixels above, with as many decimals as make a difference."""
    if pixels >= 1_000_000_000:
        return f"{_decimals(pixels / 1e9)} gigapixels"
    megapixels = pixels / 1e6
    return f"{megapixels:,.0f} megapixels" if megapixels >= 10 else f"{_decimals(megapixels)} megapixels"


def _decimals(value: float) -> str:
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def gigapixels(pixels: int) -> str:
    return f"{_decimals(pixels / 1e9)} gigapixels"


