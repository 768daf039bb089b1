"""Sniffing, probing and validation on real files: what ingest accepts and how it refuses."""

from __future__ import annotations

import subprocess

import pytest
from PIL import Image

from content.pipeline.probe import HEIF_SUPPORTED, Limits, MediaError, ffmpeg_exe, probe_file, sniff, validate
from tests.content import media_samples as samples


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "image/avif"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", "image/avif"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "video/quicktime"),
        (b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00M4A mp42", "audio/mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"ID3\x04\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\x00", "audio/mpeg"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"MZ\x90\x00\x03", "application/x-msdownload"),
        (b"\x7fELF\x02\x01\x01", "application/x-executable"),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">', "image/svg+xml"),
        (b"just some text", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_sniff_reads_magic_bytes(head, mime):
    assert sniff(head) == mime


@pytest.mark.parametrize(
    ("fmt", "name", "mime", "params"),
    [
        ("JPEG", "a.jpg", "image/jpeg", {"quality": 90}),
        ("PNG", "a.png", "image/png", {}),
        ("WEBP", "a.webp", "image/webp", {"quality": 80}),
        ("GIF", "a.gif", "image/gif", {}),
        ("AVIF", "a.avif", "image/avif", {"quality": 60}),
        ("TIFF", "a.tif", "image/tiff", {}),
    ],
)
def test_images_of_each_format_validate(tmp_path, fmt, name, mime, params):
    path = samples.simple(tmp_path, fmt, name, **params)
    info = validate(path)
    assert (info.kind, info.mime, info.width, info.height) == ("image", mime, 64, 48)
    if fmt == "GIF":
        assert info.frames == 2


def test_heic_validates(tmp_path):
    if not HEIF_SUPPORTED:
        pytest.skip("pillow-heif is not installed, so HEIC is not supported on this worker")
    path = samples.simple(tmp_path, "HEIF", "phone.heic", quality=70)
    info = validate(path)
    assert (info.mime, info.width, info.height) == ("image/heic", 64, 48)


def test_the_filename_is_never_trusted(tmp_path):
    png_named_jpg = samples.simple(tmp_path, "PNG", "looks-like.jpg")
    assert validate(png_named_jpg).mime == "image/png"


def test_probe_reports_orientation_gps_and_displayed_size(tmp_path):
    info = probe_file(samples.jpeg_rotated(tmp_path, 6))
    assert (info.width, info.height, info.orientation) == (40, 80, 6)
    assert info.has_exif and info.has_gps
    plain = tmp_path / "plain.jpg"
    samples.quadrants().save(plain, "JPEG")
    assert not probe_file(plain).has_gps


def test_probe_reports_alpha_and_colour_mode(tmp_path):
    assert probe_file(samples.png_alpha(tmp_path)).has_alpha
    cmyk = probe_file(samples.jpeg_cmyk(tmp_path))
    assert cmyk.mode == "CMYK" and not cmyk.has_alpha


def test_ai_marker_found_in_xmp(tmp_path):
    path = tmp_path / "generated.jpg"
    samples.quadrants().save(path, "JPEG", xmp=samples.AI_XMP)
    assert probe_file(path).ai_marker == "iptc:trainedAlgorithmicMedia"
    assert probe_file(samples.jpeg_with_gps(tmp_path)).ai_marker is None


def test_c2pa_manifest_is_reported(tmp_path):
    # A JPEG APP11 segment carrying a JUMBF superbox labelled c2pa, as C2PA tools embed it.
    jumbf = b"JP\x00\x00\x00\x00\x00\x01" + b"\x00\x00\x00\x30jumb\x00\x00\x00\x28jumdc2pa" + b"\x00" * 16 + b"c2pa\x00"
    segment = b"\xff\xeb" + (len(jumbf) + 2).to_bytes(2, "big") + jumbf
    plain = tmp_path / "plain.jpg"
    samples.quadrants().save(plain, "JPEG")
    data = plain.read_bytes()
    signed = tmp_path / "signed.jpg"
    signed.write_bytes(data[:2] + segment + data[2:])
    assert validate(signed).ai_marker == "c2pa"


def test_renamed_windows_program_is_refused_in_words(tmp_path):
    with pytest.raises(MediaError) as caught:
        validate(samples.renamed_exe(tmp_path))
    assert caught.value.code == "unsupported_type"
    assert caught.value.message == (
        "This file is not an image, video or audio file we accept (it looks like a Windows program)."
    )


@pytest.mark.parametrize(
    ("payload", "looks_like"),
    [(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56, "a Linux program"), (b"PK\x03\x04" + b"\x00" * 60, "a ZIP archive")],
)
def test_other_foreign_files_are_named(tmp_path, payload, looks_like):
    path = tmp_path / "photo.png"
    path.write_bytes(payload)
    with pytest.raises(MediaError, match=looks_like) as caught:
        validate(path)
    assert caught.value.code == "unsupported_type"


def test_zero_byte_file_is_refused(tmp_path):
    with pytest.raises(MediaError, match="empty") as caught:
        validate(samples.zero_bytes(tmp_path))
    assert caught.value.code == "empty"


def test_too_large_is_refused(tmp_path):
    path = samples.jpeg_with_gps(tmp_path)
    with pytest.raises(MediaError, match="the limit is") as caught:
        validate(path, Limits(max_image_bytes=100))
    assert caught.value.code == "too_large"


def test_pixel_bomb_is_refused_from_the_header(tmp_path):
    bomb = samples.png_header_bomb(tmp_path)  # 50000 × 50000 claimed in ~100 bytes
    assert bomb.stat().st_size < 200
    with pytest.raises(MediaError) as caught:
        validate(bomb)
    assert caught.value.code == "pixel_bomb"
    assert caught.value.message == ("This image is 50000×50000 = 2.5 gigapixels; the limit is 120 megapixels per "
                                    "frame. Resize it and upload again.")


def test_pixel_limit_is_ours_not_only_pillows(tmp_path):
    # 132 MP: under Pillow's own hard limit, over ours; refused before any decode.
    bomb = samples.png_header_bomb(tmp_path, 12_000, 11_000)
    with pytest.raises(MediaError, match="12000×11000 = 132 megapixels; the limit is 120 megapixels") as caught:
        validate(bomb)
    assert caught.value.code == "pixel_bomb"
    with pytest.raises(MediaError) as small_limit:
        validate(samples.jpeg_with_gps(tmp_path), Limits(max_pixels=1000))
    assert small_limit.value.code == "pixel_bomb"


def test_truncated_jpeg_is_refused(tmp_path):
    path = samples.truncated_jpeg(tmp_path)
    with Image.open(path) as header_only:
        assert header_only.size == (256, 256)  # the header alone looks fine
    with pytest.raises(MediaError, match="damaged or incomplete") as caught:
        validate(path)
    assert caught.value.code == "corrupt"


def test_truncated_png_is_refused(tmp_path):
    whole = tmp_path / "whole.png"
    samples.noise((128, 128)).save(whole, "PNG")
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[:20_000])
    with pytest.raises(MediaError) as caught:
        validate(cut)
    assert caught.value.code == "corrupt"


@pytest.mark.parametrize(("name", "mime"), [("clip.mp4", "video/mp4"), ("clip.mov", "video/quicktime")])
def test_video_probe_and_validate(tmp_path, name, mime):
    info = validate(samples.video(tmp_path, name))
    assert (info.kind, info.mime, info.width, info.height) == ("video", mime, 160, 120)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.duration_s == pytest.approx(1.0, abs=0.1)


def test_video_too_long_is_refused(tmp_path):
    path = samples.video(tmp_path, seconds=2, audio=False)
    with pytest.raises(MediaError, match="lasts 2 s; the limit is 1 s") as caught:
        validate(path, Limits(max_video_duration_s=1))
    assert caught.value.code == "too_long"


def test_truncated_video_is_refused(tmp_path):
    whole = samples.video(tmp_path, seconds=1)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(MediaError) as caught:
        validate(cut)
    assert caught.value.code == "corrupt"


def test_audio_file_validates(tmp_path):
    path = tmp_path / "voice.m4a"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(path)],
        check=True,
        timeout=30,
    )
    info = validate(path)
    assert (info.kind, info.mime, info.audio_codec) == ("audio", "audio/mp4", "aac")
