"""The one table of rendition presets, per platform.

Size limits come from the platform registry (`core.platforms`), which follows each platform's API
documentation for the upload path we use; dimensions and durations are the presets' own. Re-check
them when a connector reports a rejection.
Connectors read ``platforms`` to pick the rendition they attach; the processing task renders
every image preset once per asset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.platforms import PLATFORMS

ImageFormat = Literal["JPEG", "PNG", "WEBP"]

MB = 1024 * 1024


def _image_bytes(platform: str) -> int:
    """The platform's ceiling for an image: its image limit where it has one, else any file's."""
    media = PLATFORMS[platform].publishing_limits()[1]
    return media.max_image_bytes or media.max_bytes


def _file_bytes(platform: str) -> int:
    return PLATFORMS[platform].publishing_limits()[1].max_bytes


@dataclass(frozen=True, slots=True)
class ImagePreset:
    """How one image rendition is shaped.

    ``max_edge`` bounds the long edge (never upscaled); ``crop`` is an exact ``(width, height)``
    filled by a centred crop. ``max_bytes`` is enforced by stepping quality down, because the
    platforms reject an upload over their limit rather than recompressing it.
    """

    name: str
    format: ImageFormat
    quality: int
    max_edge: int | None = None
    crop: tuple[int, int] | None = None
    max_bytes: int | None = None
    min_quality: int = 50
    watermarkable: bool = True
    platforms: tuple[str, ...] = ()

    @property
    def mime(self) -> str:
        """The MIME type of the rendition, for storage and for the upload's Content-Type."""
        return {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[self.format]

    @property
    def keeps_alpha(self) -> bool:
        """JPEG has no alpha channel, so transparent sources are flattened on white for it."""
        return self.format in ("PNG", "WEBP")


@dataclass(frozen=True, slots=True)
class VideoPreset:
    """An H.264/AAC MP4 rendition and the limits of the platform's upload path."""

    name: str
    max_edge: int = 1920
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    max_bytes: int | None = None
    crf: int = 23
    video_maxrate_kbps: int | None = None
    audio_kbps: int = 128
    fps_cap: int = 60
    platforms: tuple[str, ...] = ()


IMAGE_PRESETS: dict[str, ImagePreset] = {
    p.name: p
    for p in (
        ImagePreset("thumb", "WEBP", 80, max_edge=320, watermarkable=False, platforms=("atelier",)),
        # X: JPEG/PNG/WebP up to 5 MB for images.
        ImagePreset("x", "JPEG", 85, max_edge=1600, max_bytes=_image_bytes("x"), platforms=("x",)),
        # Instagram: JPEG up to 8 MB, 320-1440 px wide, aspect between 4:5 and 1.91:1.
        ImagePreset("instagram_square", "JPEG", 88, crop=(1080, 1080), max_bytes=_image_bytes("instagram"),
                    platforms=("instagram",)),
        ImagePreset("instagram_portrait", "JPEG", 88, crop=(1080, 1350), max_bytes=_image_bytes("instagram"),
                    platforms=("instagram",)),
        # Telegram Bot API sendPhoto: at most 10 MB, width + height at most 10000; 2560 is what clients show.
        ImagePreset("telegram", "JPEG", 87, max_edge=2560, max_bytes=_image_bytes("telegram"), platforms=("telegram",)),
        # Fanvue keeps the full resolution; re-encoding is what strips the camera metadata.
        ImagePreset("fanvue", "JPEG", 92, max_bytes=_image_bytes("fanvue"), platforms=("fanvue", "onlyfans_manual")),
        # Bluesky: the image blob limit is 1,000,000 bytes (not 1 MiB) and the app shows 2000 px.
        ImagePreset("bluesky", "JPEG", 85, max_edge=2000, max_bytes=_image_bytes("bluesky"), min_quality=30,
                    platforms=("bluesky",)),
        # Reddit keeps large images (20 MB): the same full-size re-encode as Fanvue, so it is encoded once.
        ImagePreset("reddit", "JPEG", 92, max_bytes=_image_bytes("reddit"), platforms=("reddit",)),
    )
}

VIDEO_PRESETS: dict[str, VideoPreset] = {
    p.name: p
    for p in (
        # X API v2 media upload: 140 s and 512 MB for regular accounts.
        VideoPreset("x_video", max_edge=1920, max_duration_s=140, max_bytes=_file_bytes("x"), platforms=("x",)),
        # Instagram Graph API reels: 3 s to 15 min, at most 300 MB, 23-60 fps, moov atom first.
        VideoPreset(
            "instagram_reel",
            max_edge=1920,
            min_duration_s=3,
            max_duration_s=15 * 60,
            max_bytes=_file_bytes("instagram"),
            fps_cap=60,
            platforms=("instagram",),
        ),
        # Telegram Bot API (cloud): uploads by a bot are capped at 50 MB.
        VideoPreset("telegram_video", max_edge=1280, max_bytes=_file_bytes("telegram"), crf=26,
                    platforms=("telegram",)),
        # Bluesky: 3 minutes, 100 MB.
        VideoPreset("bluesky_video", max_edge=1920, max_duration_s=180, max_bytes=100 * MB, platforms=("bluesky",)),
        VideoPreset("fanvue_video", max_edge=1920, max_bytes=_file_bytes("fanvue"), crf=20,
                    platforms=("fanvue", "reddit")),
    )
}


def image_presets(*names: str) -> list[ImagePreset]:
    """Look presets up by name so a typo fails loudly instead of silently rendering nothing."""
    chosen = names or tuple(IMAGE_PRESETS)
    unknown = [n for n in chosen if n not in IMAGE_PRESETS]
    if unknown:
        raise KeyError(f"unknown image preset(s): {', '.join(unknown)}")
    return [IMAGE_PRESETS[n] for n in chosen]


def presets_for_platform(platform: str) -> list[ImagePreset | VideoPreset]:
    """Connectors ask which renditions belong to their platform rather than hard-coding names."""
    every: list[ImagePreset | VideoPreset] = [*IMAGE_PRESETS.values(), *VIDEO_PRESETS.values()]
    return [p for p in every if platform in p.platforms]
