"""Generation backends behind one interface; `build_backend` turns admin/env settings into one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from content.generation.backends.a1111 import A1111Backend
from content.generation.backends.base import (
    Backend,
    BackendCancelled,
    BackendConfig,
    BackendConfigError,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    GenerationFailure,
    Health,
    HttpBackend,
    ImageRequest,
    ImageResult,
    TextRequest,
    TextResult,
)
from content.generation.backends.comfyui import ComfyUIBackend
from content.generation.backends.openai import OpenAIBackend

KINDS: dict[str, type[HttpBackend]] = {"comfyui": ComfyUIBackend, "a1111": A1111Backend, "openai": OpenAIBackend}


def build_backend(config: Mapping[str, Any]) -> Backend:
    """The backend for `config["kind"]`; config errors surface here, before any job is queued."""
    kind = str(config.get("kind") or "")
    if kind not in KINDS:
        raise BackendConfigError(f"Unknown backend kind {kind!r}; expected one of {', '.join(KINDS)}.")
    return KINDS[kind](BackendConfig.from_mapping(config))


__all__ = [
    "KINDS", "A1111Backend", "Backend", "BackendCancelled", "BackendConfig", "BackendConfigError", "BackendError",
    "BackendTimeout", "BackendUnavailable", "ComfyUIBackend", "GenerationFailure", "Health", "ImageRequest",
    "ImageResult", "OpenAIBackend", "TextRequest", "TextResult", "build_backend",
]
