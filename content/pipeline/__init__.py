"""The media pipeline: sniff, probe, validate, render images and transcode video.

Framework-free on purpose (no Django imports): ``content.services`` and the Celery tasks call
these plain functions with file paths, and tests and the benchmark run them without a database.
"""

from .images import RenderedImage, Watermark, render_all, render_image
from .presets import IMAGE_PRESETS, VIDEO_PRESETS, ImagePreset, VideoPreset, image_presets, presets_for_platform
from .probe import Limits, MediaError, MediaInfo, probe_file, sniff, validate
from .video import poster_frame, probe_video, transcode_mp4

__all__ = [
    "IMAGE_PRESETS",
    "VIDEO_PRESETS",
    "ImagePreset",
    "Limits",
    "MediaError",
    "MediaInfo",
    "RenderedImage",
    "VideoPreset",
    "Watermark",
    "image_presets",
    "poster_frame",
    "presets_for_platform",
    "probe_file",
    "probe_video",
    "render_all",
    "render_image",
    "sniff",
    "transcode_mp4",
    "validate",
]
