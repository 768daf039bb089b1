"""Video renditions and poster frames through the ffmpeg binary that imageio-ffmpeg ships.

Every call has a time limit, writes to a temporary name and renames only on success, so a
killed or failed run never leaves a half-written MP4 where a service would pick it up.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from core.platforms import PLATFORMS

from .presets import VideoPreset
from .probe import MediaError, MediaInfo, ffmpeg_exe, format_duration, probe_file

POSTER_MAX_EDGE = 1280
POSTER_QUALITY = 85


def probe_video(path: str | os.PathLike[str], *, timeout_s: float = 60.0) -> MediaInfo:
    """Probe a file that must be a video; audio-only and image files are refused."""
    info = probe_file(path, timeout_s=timeout_s)
    if info.kind != "video":
        raise MediaError("not_video", f"This file is an {info.kind} file, not a video.")
    return info


def poster_frame(
    path: str | os.PathLike[str], *, at_s: float | None = None, max_edge: int = POSTER_MAX_EDGE, timeout_s: float = 60.0
) -> bytes:
    """A JPEG still for grids and link previews, taken at 10 % of the duration (at most 10 s in).

    10 % skips the black fade-in most clips start with; the cap keeps long videos cheap to seek.
    The frame goes through Pillow so the JPEG carries no encoder comment or metadata.
    """
    info = probe_video(path, timeout_s=timeout_s)
    if at_s is None:
        at_s = min((info.duration_s or 0) * 0.1, 10.0)
    frame = _grab_frame(Path(path), at_s, max_edge, timeout_s)
    if not frame and at_s > 0:
        frame = _grab_frame(Path(path), 0.0, max_edge, timeout_s)  # very short clip: take the first frame
    if not frame:
        raise MediaError("corrupt", "No picture could be taken from this video; it may be damaged.")
    with Image.open(io.BytesIO(frame)) as im:
        buffer = io.BytesIO()
        im.convert("RGB").save(buffer, "JPEG", quality=POSTER_QUALITY, optimize=True, progressive=True)
    return buffer.getvalue()


def _grab_frame(path: Path, at_s: float, max_edge: int, timeout_s: float) -> bytes:
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-ss", f"{at_s:.3f}", "-i", str(path)]
    argv += ["-frames:v", "1", "-an", "-sn", "-vf", _fit_filter(max_edge), "-c:v", "ppm", "-f", "image2pipe", "-"]
    proc = _run(argv, timeout_s, "Taking a picture from this video took too long.")
    return proc.stdout if proc.returncode == 0 else b""


def _fit_filter(max_edge: int) -> str:
    """Scale down (never up) so both sides fit ``max_edge``, keeping the aspect and even sizes for yuv420p."""
    return (
        f"scale=w='min({max_edge},iw)':h='min({max_edge},ih)':force_original_aspect_ratio=decrease:force_divisible_by=2"
    )


def transcode_mp4(
    path: str | os.PathLike[str],
    preset: VideoPreset,
    out_path: str | os.PathLike[str],
    *,
    timeout_s: float | None = None,
) -> MediaInfo:
    """Encode an H.264/AAC MP4 that the preset's platform accepts, and return its probe.

    yuv420p and ``+faststart`` because players and platform ingest pipelines expect both (yuv444
    or a trailing moov atom fail or stall on phones). ``-map_metadata -1`` and bitexact flags drop
    creation time, location (``©xyz``), device and encoder tags. When the platform caps the
    file size, the bitrate is capped from the duration so the first encode fits; the result is
    still checked, since a cap is a target, not a promise.
    """
    src = Path(path)
    out = Path(out_path)
    info = probe_video(src)
    duration = info.duration_s or 0.0
    if preset.max_duration_s is not None and duration > preset.max_duration_s:
        raise MediaError(
            "too_long",
            f"This video lasts {format_duration(duration)}; {_platforms(preset)} accepts at most "
            f"{format_duration(preset.max_duration_s)}. Trim it first.",
        )
    if preset.min_duration_s is not None and duration < preset.min_duration_s:
        raise MediaError(
            "too_short",
            f"This video lasts {format_duration(duration)}; {_platforms(preset)} needs at least "
            f"{format_duration(preset.min_duration_s)}.",
        )
    filters = [_fit_filter(preset.max_edge)]
    if info.fps and info.fps > preset.fps_cap:
        filters.append(f"fps={preset.fps_cap}")
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(src)]
    argv += ["-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"]
    argv += ["-vf", ",".join(filters), "-c:v", "libx264", "-preset", "veryfast", "-crf", str(preset.crf)]
    argv += ["-pix_fmt", "yuv420p", "-profile:v", "high"]
    video_kbps = _video_budget_kbps(preset, duration)
    if video_kbps is not None:
        argv += ["-maxrate", f"{video_kbps}k", "-bufsize", f"{video_kbps * 2}k"]
    argv += ["-c:a", "aac", "-b:a", f"{preset.audio_kbps}k", "-ac", "2"]
    argv += ["-movflags", "+faststart", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".transcode-", suffix=".mp4", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        limit = timeout_s if timeout_s is not None else 120.0 + 4.0 * duration
        proc = _run([*argv, "-f", "mp4", str(tmp)], limit, "Converting this video took too long.")
        if proc.returncode != 0:
            raise MediaError("corrupt", "This video could not be converted; it may be damaged.")
        size = tmp.stat().st_size
        if preset.max_bytes is not None and size > preset.max_bytes:
            raise MediaError(
                "too_large",
                f"The converted video is {size / 1048576:,.0f} MB; {_platforms(preset)} accepts at most "
                f"{preset.max_bytes / 1048576:,.0f} MB. Trim it or upload a shorter cut.",
            )
        tmp.chmod(0o644)  # mkstemp makes it private; the rendition is served like any other file
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return probe_file(out)


def _video_budget_kbps(preset: VideoPreset, duration: float) -> int | None:
    """Peak video bitrate that keeps the file under the preset's byte cap, with 8 % for the container."""
    if preset.max_bytes is None or duration <= 0:
        return None
    total_kbps = preset.max_bytes * 8 / 1000 / duration * 0.92
    budget = int(total_kbps - preset.audio_kbps)
    if budget >= 20_000:
        return None  # far above what CRF produces at 1080p: let quality decide
    return max(budget, 200)


def _platforms(preset: VideoPreset) -> str:
    return " / ".join(PLATFORMS[p].label if p in PLATFORMS else p.title() for p in preset.platforms) or preset.name


def _run(argv: list[str], timeout_s: float, timeout_message: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)  # noqa: S603 - fixed argv
    except subprocess.TimeoutExpired as exc:
        raise MediaError("timeout", timeout_message) from exc
