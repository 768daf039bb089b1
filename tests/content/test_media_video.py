"""Video probing, poster frames and MP4 renditions on real clips made with the bundled ffmpeg."""

from __future__ import annotations

import io
import subprocess

import pytest
from PIL import Image

from content.pipeline.presets import VIDEO_PRESETS, VideoPreset
from content.pipeline.probe import MediaError, ffmpeg_exe
from content.pipeline.video import poster_frame, probe_video, transcode_mp4
from tests.content import media_samples as samples


def global_metadata(path) -> str:
    """ffmpeg's ffmetadata dump of the container's global tags."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-fflags", "+bitexact", "-f", "ffmetadata", "-"],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return proc.stdout.decode()


def box_order(path) -> list[bytes]:
    """Top-level MP4 boxes in file order."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8])
        if size < 8:
            break
        offset += size
    return boxes


def test_probe_video_reads_codecs_size_and_duration(tmp_path):
    info = probe_video(samples.video(tmp_path, "clip.mov", seconds=1, pix_fmt="yuv444p"))
    assert (info.mime, info.width, info.height, info.pixel_format) == ("video/quicktime", 160, 120, "yuv444p")
    assert info.codecs == ("h264", "aac")
    assert info.fps == 25


def test_probe_video_refuses_an_image(tmp_path):
    with pytest.raises(MediaError) as caught:
        probe_video(samples.jpeg_with_gps(tmp_path))
    assert caught.value.code == "not_video"


def test_poster_frame_is_a_clean_jpeg(tmp_path):
    data = poster_frame(samples.video(tmp_path, seconds=2, size="320x240"))
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == ("JPEG", (320, 240))
        assert len(image.getexif()) == 0
    assert b"Lavc" not in data and samples.CAMERA_MAKE.encode() not in data


def test_poster_frame_is_scaled_down(tmp_path):
    data = poster_frame(samples.video(tmp_path, seconds=1, size="640x360", audio=False), max_edge=320)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (320, 180)


@pytest.mark.parametrize("name", ["clip.mov", "clip.mp4"])
def test_transcode_produces_h264_aac_yuv420p_faststart_without_metadata(tmp_path, name):
    source = samples.video(tmp_path, name, seconds=1, size="640x360", pix_fmt="yuv444p")
    assert "location" in global_metadata(source)
    preset = VideoPreset("small", max_edge=320, max_duration_s=10, max_bytes=5_000_000, platforms=("x",))
    out = tmp_path / "out" / "rendition.mp4"
    info = transcode_mp4(source, preset, out)
    assert (info.mime, info.video_codec, info.audio_codec, info.pixel_format) == ("video/mp4", "h264", "aac", "yuv420p")
    assert (info.width, info.height) == (320, 180)
    assert info.duration_s == pytest.approx(1.0, abs=0.15)
    boxes = box_order(out)
    assert boxes.index(b"moov") < boxes.index(b"mdat"), "moov must come first (+faststart)"
    tags = global_metadata(out)
    assert "location" not in tags and samples.CAMERA_MAKE not in tags
    data = out.read_bytes()
    assert samples.CAMERA_MAKE.encode() not in data and b"\xa9xyz" not in data and b"Lavf" not in data
    assert not list(out.parent.glob(".transcode-*"))


def test_transcode_of_a_silent_clip_has_no_audio(tmp_path):
    source = samples.video(tmp_path, seconds=1, audio=False)
    info = transcode_mp4(source, VIDEO_PRESETS["telegram_video"], tmp_path / "silent.mp4")
    assert info.video_codec == "h264" and info.audio_codec is None


def test_transcode_refuses_a_clip_over_the_platform_duration(tmp_path):
    source = samples.video(tmp_path, seconds=2, audio=False)
    preset = VideoPreset("short", max_duration_s=1.0, platforms=("instagram",))
    out = tmp_path / "never.mp4"
    with pytest.raises(MediaError, match="lasts 2 s; Instagram accepts at most 1 s") as caught:
        transcode_mp4(source, preset, out)
    assert caught.value.code == "too_long"
    assert not out.exists()


def test_transcode_refuses_an_output_over_the_size_cap_and_leaves_nothing(tmp_path):
    source = samples.video(tmp_path, seconds=1, size="320x240")
    preset = VideoPreset("tiny", max_bytes=2_000, platforms=("telegram",))
    out = tmp_path / "never.mp4"
    with pytest.raises(MediaError, match="Telegram accepts at most") as caught:
        transcode_mp4(source, preset, out)
    assert caught.value.code == "too_large"
    assert not out.exists() and not list(tmp_path.glob(".transcode-*"))


def test_transcode_times_out_cleanly(tmp_path):
    source = samples.video(tmp_path, seconds=1, audio=False)
    with pytest.raises(MediaError) as caught:
        transcode_mp4(source, VIDEO_PRESETS["x_video"], tmp_path / "late.mp4", timeout_s=0.001)
    assert caught.value.code == "timeout"
    assert not list(tmp_path.glob(".transcode-*"))


def test_transcode_refuses_a_damaged_clip(tmp_path):
    whole = samples.video(tmp_path, seconds=1)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    with pytest.raises(MediaError) as caught:
        transcode_mp4(cut, VIDEO_PRESETS["x_video"], tmp_path / "never.mp4")
    assert caught.value.code == "corrupt"


def test_transcode_refuses_a_clip_under_the_platform_minimum(tmp_path):
    source = samples.video(tmp_path, seconds=1, audio=False)
    with pytest.raises(MediaError, match="Instagram needs at least 3 s") as caught:
        transcode_mp4(source, VIDEO_PRESETS["instagram_reel"], tmp_path / "never.mp4")
    assert caught.value.code == "too_short"


def test_phone_rotation_is_applied_to_probe_poster_and_rendition(tmp_path):
    upright = samples.video(tmp_path, seconds=1, audio=False)  # stored 160×120
    rotated = tmp_path / "portrait.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-display_rotation", "90", "-i", str(upright), "-c", "copy", str(rotated)],
        check=True,
        timeout=30,
    )
    info = probe_video(rotated)
    assert (info.width, info.height, info.rotation) == (120, 160, 90)
    with Image.open(io.BytesIO(poster_frame(rotated))) as poster:
        assert poster.size == (120, 160)
    out = transcode_mp4(rotated, VIDEO_PRESETS["x_video"], tmp_path / "portrait-out.mp4")
    assert (out.width, out.height, out.rotation) == (120, 160, 0)
