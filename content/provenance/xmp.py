"""IPTC ``DigitalSourceType`` in an image's XMP packet, for JPEG, PNG and WebP.

Many platforms and viewers that do not parse C2PA still read the IPTC property
``Iptc4xmpExt:DigitalSourceType`` (https://iptc.org/std/photometadata/specification/#digital-source-type);
Meta and Google use it to attach their "AI info" labels. It is unsigned, so it complements the
C2PA manifest rather than replacing it; write it *before* signing, since any byte changed after
signing invalidates the manifest's hash.

Containers are edited at the byte level so that the pixels are never re-encoded: re-saving
through Pillow would recompress JPEGs and drop other metadata. Reading uses pattern matching
rather than an XML parser because the packets come from untrusted uploads.
"""

from __future__ import annotations

import re
import struct
import zlib

from content.provenance.c2pa_sign import TRAINED_ALGORITHMIC_MEDIA, normalize_mime

IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SUPPORTED_MIME_TYPES = ("image/jpeg", "image/png", "image/webp")

# A JPEG segment length is 16 bits and includes itself; what is left after the XMP header is
# the most a standard (non-extended) XMP packet can hold.
_JPEG_MAX_XMP = 0xFFFF - 2 - len(JPEG_XMP_HEADER)
_WEBP_FLAG_XMP = 0x04
_WEBP_FLAG_ALPHA = 0x10


class XmpError(ValueError):
    """The image could not be read or written as the container it claims to be."""


def _packet(source_type: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
        f'  <rdf:Description rdf:about="" xmlns:Iptc4xmpExt="{IPTC_EXT_NS}">\n'
        f"   <Iptc4xmpExt:DigitalSourceType>{source_type}</Iptc4xmpExt:DigitalSourceType>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def _source_type_patterns(text: str) -> list[re.Pattern[str]]:
    prefixes = set(re.findall(r'xmlns:([\w.-]+)\s*=\s*["\']' + re.escape(IPTC_EXT_NS) + "[\"']", text))
    patterns = []
    for prefix in prefixes:
        name = re.escape(prefix) + r":DigitalSourceType"
        patterns += [
            re.compile(name + r'\s*=\s*"([^"]*)"'),
            re.compile(name + r"\s*=\s*'([^']*)'"),
            re.compile(r"<" + name + r"[^>]*?\brdf:resource\s*=\s*[\"']([^\"']*)[\"'][^>]*/>"),
            re.compile(r"<" + name + r"(?:\s[^>]*)?>\s*([^<]*?)\s*</" + name + r">"),
        ]
    return patterns


def source_type_in_packet(packet: bytes) -> str | None:
    """The DigitalSourceType URI declared in an XMP packet, if any."""
    text = packet.decode("utf-8", errors="replace")
    for pattern in _source_type_patterns(text):
        match = pattern.search(text)
        if match and match.group(1).strip():
            return match.group(1).strip()
    return None


def _merge_packet(existing: bytes | None, source_type: str) -> bytes:
    """Add the property to an existing packet, keeping everything else the packet says."""
    if existing is None:
        return _packet(source_type)
    text = existing.decode("utf-8", errors="strict")
    for pattern in _source_type_patterns(text):
        text = pattern.sub("", text)
    rdf_close = re.search(r"</([\w.-]+):RDF>", text)
    if rdf_close is None:
        raise XmpError("existing XMP packet has no rdf:RDF element to extend")
    prefix = rdf_close.group(1)
    description = (
        f'<{prefix}:Description {prefix}:about="" xmlns:Iptc4xmpExt="{IPTC_EXT_NS}">'
        f"<Iptc4xmpExt:DigitalSourceType>{source_type}</Iptc4xmpExt:DigitalSourceType>"
        f"</{prefix}:Description>"
    )
    return (text[: rdf_close.start()] + description + text[rdf_close.start() :]).encode()


# JPEG ---------------------------------------------------------------------------------------


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """Marker segments before the scan: (marker, start, end) and the offset where the scan starts."""
    if not data.startswith(b"\xff\xd8"):
        raise XmpError("not a JPEG file")
    pos, segments = 2, []
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise XmpError("corrupt JPEG marker structure")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xDA:
            return segments, pos
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise XmpError("truncated JPEG segment")
        segments.append((marker, pos, end))
        pos = end
    raise XmpError("JPEG has no image data")


def _jpeg_xmp(data: bytes) -> tuple[bytes | None, tuple[int, int] | None]:
    segments, _ = _jpeg_segments(data)
    for marker, start, end in segments:
        body = data[start + 4 : end]
        if marker == 0xE1 and body.startswith(JPEG_XMP_HEADER):
            return body[len(JPEG_XMP_HEADER) :], (start, end)
    return None, None


def _jpeg_with_xmp(data: bytes, packet: bytes) -> bytes:
    if len(packet) > _JPEG_MAX_XMP:
        raise XmpError("XMP packet too large for one JPEG segment (extended XMP is not supported)")
    _existing, span = _jpeg_xmp(data)
    segment = b"\xff\xe1" + struct.pack(">H", 2 + len(JPEG_XMP_HEADER) + len(packet)) + JPEG_XMP_HEADER + packet
    if span is not None:
        return data[: span[0]] + segment + data[span[1] :]
    # After JFIF (APP0) and Exif (APP1), where readers expect application metadata to start.
    segments, _ = _jpeg_segments(data)
    insert_at = 2
    for marker, _start, end in segments:
        if marker in (0xE0, 0xE1):
            insert_at = end
        else:
            break
    return data[:insert_at] + segment + data[insert_at:]


# PNG ----------------------------------------------------------------------------------------


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    if not data.startswith(PNG_SIGNATURE):
        raise XmpError("not a PNG file")
    pos, chunks = len(PNG_SIGNATURE), []
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise XmpError("truncated PNG chunk")
        chunks.append((kind, pos, end))
        pos = end
        if kind == b"IEND":
            break
    return chunks


def _png_itxt_xmp(body: bytes) -> bytes | None:
    keyword, sep, rest = body.partition(b"\x00")
    if not sep or keyword != PNG_XMP_KEYWORD or len(rest) < 2:
        return None
    compressed, _method, rest = rest[0], rest[1], rest[2:]
    _lang, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        try:
            return zlib.decompress(text)
        except zlib.error as exc:
            raise XmpError("compressed XMP chunk in PNG cannot be inflated") from exc
    return text


def _png_xmp(data: bytes) -> tuple[bytes | None, tuple[int, int] | None]:
    for kind, start, end in _png_chunks(data):
        if kind == b"iTXt":
            packet = _png_itxt_xmp(data[start + 8 : end - 4])
            if packet is not None:
                return packet, (start, end)
    return None, None


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_with_xmp(data: bytes, packet: bytes) -> bytes:
    chunk = _png_chunk(b"iTXt", PNG_XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + packet)
    _existing, span = _png_xmp(data)
    if span is not None:
        return data[: span[0]] + chunk + data[span[1] :]
    chunks = _png_chunks(data)
    if not chunks or chunks[0][0] != b"IHDR":
        raise XmpError("PNG does not start with IHDR")
    # Right after IHDR: XMP must precede IDAT for streaming readers.
    insert_at = chunks[0][2]
    return data[:insert_at] + chunk + data[insert_at:]


# WebP ---------------------------------------------------------------------------------------


def _webp_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise XmpError("not a WebP file")
    pos, chunks = 12, []
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        end = pos + 8 + size + (size & 1)
        if pos + 8 + size > len(data):
            raise XmpError("truncated WebP chunk")
        chunks.append((kind, pos, min(end, len(data))))
        pos = end
    return chunks


def _webp_xmp(data: bytes) -> tuple[bytes | None, tuple[int, int] | None]:
    for kind, start, end in _webp_chunks(data):
        if kind == b"XMP ":
            size = struct.unpack("<I", data[start + 4 : start + 8])[0]
            return data[start + 8 : start + 8 + size], (start, end)
    return None, None


def _webp_canvas(data: bytes, kind: bytes, start: int) -> tuple[int, int, bool]:
    """Width, height and alpha of a simple (VP8/VP8L) WebP, needed to build its VP8X header."""
    body = data[start + 8 :]
    if kind == b"VP8 ":
        if body[3:6] != b"\x9d\x01\x2a":
            raise XmpError("corrupt VP8 frame header")
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF, False
    if kind == b"VP8L":
        if body[0] != 0x2F:
            raise XmpError("corrupt VP8L header")
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise XmpError(f"unexpected first WebP chunk {kind!r}")


def _webp_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _webp_with_xmp(data: bytes, packet: bytes) -> bytes:
    chunks = _webp_chunks(data)
    if not chunks:
        raise XmpError("empty WebP file")
    first_kind, first_start, first_end = chunks[0]
    body = b"".join(data[s:e] for k, s, e in chunks if k != b"XMP ")
    if first_kind == b"VP8X":
        flags = data[first_start + 8] | _WEBP_FLAG_XMP
        vp8x = data[first_start : first_start + 8] + bytes([flags]) + data[first_start + 9 : first_end]
        body = vp8x + body[first_end - first_start :]
    else:
        # A simple WebP cannot carry metadata; the extended header (VP8X) announces the XMP chunk.
        width, height, alpha = _webp_canvas(data, first_kind, first_start)
        flags = _WEBP_FLAG_XMP | (_WEBP_FLAG_ALPHA if alpha else 0)
        vp8x_body = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        body = _webp_chunk(b"VP8X", vp8x_body) + body
    # XMP is the last chunk per the container spec (after image data and EXIF).
    body += _webp_chunk(b"XMP ", packet)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


# Public API ---------------------------------------------------------------------------------

_READERS = {"image/jpeg": _jpeg_xmp, "image/png": _png_xmp, "image/webp": _webp_xmp}
_WRITERS = {"image/jpeg": _jpeg_with_xmp, "image/png": _png_with_xmp, "image/webp": _webp_with_xmp}


def _check_mime(mime: str) -> str:
    mime = normalize_mime(mime)
    if mime not in SUPPORTED_MIME_TYPES:
        raise XmpError(f"XMP marking supports {', '.join(SUPPORTED_MIME_TYPES)}, not {mime or 'an unknown type'}")
    return mime


def read_xmp_packet(data: bytes, mime: str) -> bytes | None:
    """The raw XMP packet embedded in the image, or None when there is none."""
    packet, _span = _READERS[_check_mime(mime)](data)
    return packet


def add_digital_source_type(data: bytes, mime: str, source_type: str = TRAINED_ALGORITHMIC_MEDIA) -> bytes:
    """Return the image with ``Iptc4xmpExt:DigitalSourceType`` set in its XMP, pixels untouched.

    An existing packet is kept and extended, replacing any other DigitalSourceType it declared,
    so camera or editor metadata survives.
    """
    mime = _check_mime(mime)
    existing = read_xmp_packet(data, mime)
    if existing is not None and source_type_in_packet(existing) == source_type:
        return data
    return _WRITERS[mime](data, _merge_packet(existing, source_type))


def read_digital_source_type(data: bytes, mime: str) -> str | None:
    """The IPTC DigitalSourceType URI in the image's XMP, or None."""
    packet = read_xmp_packet(data, mime)
    return source_type_in_packet(packet) if packet is not None else None
