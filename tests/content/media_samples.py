"""Real sample files for the media tests, made with Pillow and the bundled ffmpeg.

Small on purpose (the whole media suite must stay fast); sizes only grow where a test is about
size. Each helper writes into the directory it is given and returns the path.
"""

from __future__ import annotations

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
