"""Real sample files for the media tests, made with Pillow and the bundled ffmpeg.

Small on purpose (the whole media suite must stay fast); sizes only grow where a test is about
size. Each helper writes into the directory it is given and returns the path.
"""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from pathlib import Path

from PIL import Image

from content.pipeline.probe import ffmpeg_exe

CAMERA_MAKE = "AtelierTestCam"
GPS = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
AI_XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def camera_exif(orientation: int = 1, gps: bool = True) -> Image.Exif:
    """EXIF as a phone writes it: make, orientation and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE
    exif[0x0112] = orientation
    if gps:
        exif[0x8825] = GPS
    return exif


def quadrants(size: tuple[int, int] = (80, 40)) -> Image.Image:
    """Red top-left quadrant on blue: after any rotation the red corner says which way is up."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1] // 2))
    return image


def noise(size: tuple[int, int], sigma: int = 60) -> Image.Image:
    """Incompressible content, for byte-limit tests."""
    channels = [Image.effect_noise(size, sigma) for _ in range(3)]
    return Image.merge("RGB", channels)


def jpeg_with_gps(directory: Path, name: str = "gps.jpg", size: tuple[int, int] = (96, 64)) -> Path:
    path = directory / name
    quadrants(size).save(path, "JPEG", quality=95, exif=camera_exif(), comment=b"shot by someone")
    return path


def jpeg_rotated(directory: Path, orientation: int = 6) -> Path:
    """Stored landscape 80×40 with the orientation tag: displays as portrait 40×80 for 6 and 8."""
    path = directory / f"rotated-{orientation}.jpg"
    quadrants((80, 40)).save(path, "JPEG", quality=98, subsampling=0, exif=camera_exif(orientation))
    return path


def jpeg_cmyk(directory: Path) -> Path:
    path = directory / "cmyk.jpg"
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(path, "JPEG", quality=95)  # pure red ink
    return path


def png_alpha(directory: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """Left half opaque green, right half fully transparent."""
    path = directory / "alpha.png"
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((0, 200, 0, 255), (0, 0, size[0] // 2, size[1]))
    image.save(path, "PNG", exif=camera_exif())
    return path


def simple(directory: Path, fmt: str, name: str, size: tuple[int, int] = (64, 48), **params: object) -> Path:
    path = directory / name
    image = quadrants(size)
    if fmt == "GIF":
        frames = [image, quadrants(size).transpose(Image.Transpose.ROTATE_180)]
        frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    else:
        image.save(path, fmt, **params)
    return path


def png_header_bomb(directory: Path, width: int = 50_000, height: int = 50_000) -> Path:
    """A valid PNG of a few dozen bytes whose header claims ``width × height`` pixels.

    The IDAT holds one compressed row, so nothing big is ever written; only a decoder that
    trusts the header would try to allocate gigabytes.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * 3 * 16)
    path = directory / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def truncated_jpeg(directory: Path) -> Path:
    whole = directory / "whole.jpg"
    noise((256, 256)).save(whole, "JPEG", quality=90)
    data = whole.read_bytes()
    path = directory / "truncated.jpg"
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


def renamed_exe(directory: Path) -> Path:
    """A Windows PE stub saved under a photo's name."""
    path = directory / "holiday.jpg"
    path.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" * 8)
    return path


def zero_bytes(directory: Path) -> Path:
    path = directory / "empty.jpg"
    path.touch()
    return path


def video(
    directory: Path,
    name: str = "clip.mp4",
    *,
    seconds: float = 1.0,
    size: str = "160x120",
    rate: int = 25,
    pix_fmt: str = "yuv420p",
    audio: bool = True,
    extra: list[str] | None = None,
) -> Path:
    """A test-pattern clip with a sine tone and a GPS location tag, in the container ``name`` implies."""
    path = directory / name
    pattern = f"testsrc=size={size}:rate={rate}:duration={seconds}"
    argv = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", pattern]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt]
    argv += ["-metadata", "location=+48.8584+002.2945/", "-metadata", f"make={CAMERA_MAKE}"]
    argv += [*(extra or []), str(path)]
    subprocess.run(argv, check=True, timeout=60, capture_output=True)
    return path


# --- Crafted files: each one an attack found against the upload path --------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def exif_orientation_inf() -> bytes:
    """A big-endian TIFF/EXIF block whose Orientation (0x0112) is a DOUBLE holding +inf.

    Orientation is a SHORT in the standard; readers that convert whatever they find to an int
    overflow on infinity.
    """
    ifd = struct.pack(">H", 1) + struct.pack(">HHII", 0x0112, 12, 1, 26) + struct.pack(">I", 0)
    return b"MM\x00*" + struct.pack(">I", 8) + ifd + struct.pack(">d", float("inf"))


def jpeg_orientation_inf(directory: Path) -> Path:
    """A plain JPEG with an APP1 EXIF segment whose Orientation is +inf."""
    plain = directory / "plain-for-inf.jpg"
    quadrants((64, 48)).save(plain, "JPEG", quality=90)
    data = plain.read_bytes()
    payload = b"Exif\x00\x00" + exif_orientation_inf()
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    path = directory / "orientation-inf.jpg"
    path.write_bytes(data[:2] + app1 + data[2:])
    return path


def png_exif_after_idat(directory: Path) -> Path:
    """A PNG whose eXIf chunk (Orientation = +inf) comes after the image data, where only a full
    decode finds it."""
    plain = directory / "plain-for-exif.png"
    quadrants((64, 48)).save(plain, "PNG")
    data = plain.read_bytes()
    iend = data.rindex(b"IEND") - 4
    path = directory / "exif-after-idat.png"
    path.write_bytes(data[:iend] + _png_chunk(b"eXIf", exif_orientation_inf()) + data[iend:])
    return path


def gif_frame_bomb(directory: Path, width: int = 10_000, height: int = 10_000, frames: int = 100) -> Path:
    """A ~2 KB GIF: a ``width × height`` logical screen and ``frames`` frames of one pixel each.

    Decoders composite every frame onto the full screen, so decoding it costs
    ``frames × width × height`` pixels although the file holds almost nothing.
    """
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    # LZW with a 2-bit minimum code size: CLEAR(4), index 0, END(5) in 3-bit codes, LSB first.
    pixel = b"\x02\x02\x44\x01\x00"
    for _ in range(frames):
        out += b"\x21\xf9\x04\x04\x0a\x00\x00\x00"  # graphic control: keep the frame, 100 ms
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + pixel
    out += b"\x3b"
    path = directory / "frame-bomb.gif"
    path.write_bytes(bytes(out))
    return path


def _riff(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"WEBP"
    for fourcc, data in chunks:
        body += fourcc + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _u24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]


def webp_frame_bomb(directory: Path, width: int = 10_000, height: int = 10_000, frames: int = 100) -> Path:
    """A ~5 KB animated WebP: a ``width × height`` canvas and ``frames`` frames of one pixel."""
    one = directory / "one-pixel.webp"
    Image.new("RGBA", (1, 1), (255, 0, 0, 255)).save(one, "WEBP", lossless=True)
    raw = one.read_bytes()
    vp8l = raw[12:]  # the one chunk after the RIFF/WEBP header, with its own header
    vp8x = bytes([0x02 | 0x10]) + b"\x00\x00\x00" + _u24(width - 1) + _u24(height - 1)
    anim = b"\x00\x00\x00\x00" + struct.pack("<H", 0)
    frame = _u24(0) + _u24(0) + _u24(0) + _u24(0) + _u24(100) + b"\x00" + vp8l
    path = directory / "frame-bomb.webp"
    path.write_bytes(_riff([(b"VP8X", vp8x), (b"ANIM", anim)] + [(b"ANMF", frame)] * frames))
    return path


def tiff_hidden_page(directory: Path, big: tuple[int, int] = (13_000, 13_000)) -> Path:
    """A two-page TIFF: an 8×8 first page, then a ``big`` greyscale page (deflated zeros, ~170 KB)."""
    compressor = zlib.compressobj(9)
    row_block = bytes(big[0] * 1000)
    deflated = bytearray()
    for start in range(0, big[1], 1000):
        deflated += compressor.compress(row_block[: big[0] * min(1000, big[1] - start)])
    deflated += compressor.flush()
    small = bytes(64)

    def ifd(width: int, height: int, compression: int, offset: int, count: int, next_ifd: int) -> bytes:
        entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, compression),
                   (262, 3, 1, 1), (273, 4, 1, offset), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, count)]
        out = struct.pack("<H", len(entries))
        for tag, kind, n, value in entries:
            out += struct.pack("<HHII", tag, kind, n, value) if kind == 4 else struct.pack("<HHIHH", tag, kind, n,
                                                                                            value, 0)
        return out + struct.pack("<I", next_ifd)

    ifd_size = 2 + 9 * 12 + 4
    first_ifd, small_at = 8, 8 + ifd_size
    second_ifd = small_at + len(small)
    big_at = second_ifd + ifd_size
    data = (b"II*\x00" + struct.pack("<I", first_ifd) + ifd(8, 8, 1, small_at, len(small), second_ifd) + small
            + ifd(big[0], big[1], 8, big_at, len(deflated), 0) + bytes(deflated))
    path = directory / "hidden-page.tif"
    path.write_bytes(data)
    return path


def _jpeg_bytes(size: tuple[int, int], directory: Path) -> bytes:
    path = directory / f"frame-{size[0]}x{size[1]}.jpg"
    quadrants(size).save(path, "JPEG", quality=80)
    return path.read_bytes()


def _with_size(jpeg: bytes, size: tuple[int, int]) -> bytes:
    """The same JPEG whose frame header (SOF0) claims ``size``: what a decoder would allocate."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[: at + 5] + struct.pack(">HH", size[1], size[0]) + jpeg[at + 9 :]


def mpo_hidden_frame(directory: Path, big: tuple[int, int] = (13_000, 13_000)) -> Path:
    """A two-image MPO (multi-picture JPEG): an 8×8 first image and a second one claiming ``big``."""
    first = _jpeg_bytes((8, 8), directory)
    second = _with_size(_jpeg_bytes((8, 8), directory), big)

    def mp_header(first_size: int, second_offset: int) -> bytes:
        entries = struct.pack(">IIIHH", 0x20030000, first_size, 0, 0, 0)
        entries += struct.pack(">IIIHH", 0x00020002, len(second), second_offset, 0, 0)
        ifd_entries = [struct.pack(">HHI", 0xB000, 7, 4) + b"0100", struct.pack(">HHII", 0xB001, 4, 1, 2),
                       struct.pack(">HHII", 0xB002, 7, 32, 8 + 2 + 3 * 12 + 4)]
        ifd = struct.pack(">H", 3) + b"".join(ifd_entries) + struct.pack(">I", 0)
        return b"MM\x00*" + struct.pack(">I", 8) + ifd + entries

    probe = mp_header(0, 0)
    app2_len = 2 + 4 + len(probe)
    first_size = len(first) + 2 + app2_len
    header_at = 2 + 4 + 4  # SOI, APP2 marker and length, "MPF\0": where MP offsets count from
    header = mp_header(first_size, first_size - header_at)
    app2 = b"\xff\xe2" + struct.pack(">H", app2_len) + b"MPF\x00" + header
    path = directory / "hidden-frame.mpo"
    path.write_bytes(first[:2] + app2 + first[2:] + second)
    return path


def id3_then_video(directory: Path, size: str = "12000x12000") -> Path:
    """An ID3v2 tag (what makes a file look like MP3) followed by a one-frame ``size`` video."""
    clip = directory / "huge.nut"  # NUT: a container ffmpeg still finds behind an ID3 tag
    argv = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=black:s={size}:d=0.04:r=25",
            "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "31", str(clip)]
    subprocess.run(argv, check=True, timeout=120, capture_output=True)
    path = directory / "song.mp3"
    path.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + clip.read_bytes())
    clip.unlink()
    return path


def png_at_size(directory: Path, target_bytes: int, width: int = 8000) -> Path:
    """An incompressible RGB PNG of at most ``target_bytes``, written in stored (level 0) deflate
    blocks so making 200 MB takes about a second; the pixels are random."""
    row = width * 3 + 1
    # Stored deflate costs 5 bytes per 65,535; 4 KB covers the signature, headers and chunk framing.
    height = (target_bytes - 4096) * 65535 // ((65535 + 5) * row)
    path = directory / f"big-{target_bytes}.png"
    compressor = zlib.compressobj(0)
    rng_block = os.urandom(row * 256)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        done = 0
        while done < height:
            rows = min(256, height - done)
            block = bytearray(rng_block[: rows * row])
            block[::row] = bytes(rows)  # filter byte 0 on every row
            data = compressor.compress(bytes(block))
            if data:
                out.write(_png_chunk(b"IDAT", data))
            done += rows
        out.write(_png_chunk(b"IDAT", compressor.flush()))
        out.write(_png_chunk(b"IEND", b""))
    return path


def png_bad_pixels(directory: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """A PNG whose every chunk is whole and correctly checksummed, but whose image data is not a
    deflate stream: only decoding the pixels finds out."""
    ihdr = struct.pack(">IIBBBBB", size[0], size[1], 8, 2, 0, 0, 0)
    path = directory / "bad-pixels.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"\x78\x9c" + b"\xff" * 64)
                     + _png_chunk(b"IEND", b""))
    return path
