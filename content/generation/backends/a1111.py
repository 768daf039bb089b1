"""Automatic1111 / Forge WebUI over `/sdapi/v1/txt2img` (the WebUI must run with `--api`).

Images come back base64-encoded in one synchronous answer. With a batch, the WebUI may put a grid
of the whole batch first; `info.index_of_first_image` says where the real images start.
`api_key` of the form "user:password" is sent as HTTP Basic, matching the WebUI's `--api-auth`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import httpx

from content.generation.backends.base import (
    BackendError,
    Deadline,
    HttpBackend,
    ImageRequest,
    ImageResult,
)
from core.http import json_or_none


class A1111Backend(HttpBackend):
    kind = "a1111"

    def auth_headers(self) -> dict[str, str]:
        headers = super().auth_headers()
        if ":" in self.config.api_key:
            headers.pop("Authorization", None)
        return headers

    def auth(self) -> httpx.Auth | None:
        if ":" in self.config.api_key:
            user, _, password = self.config.api_key.partition(":")
            return httpx.BasicAuth(user, password)
        return None

    def generate_images(self, req: ImageRequest) -> ImageResult:
        deadline = Deadline(self.config.timeout)
        payload: dict[str, Any] = {
            "prompt": req.prompt, "negative_prompt": req.negative_prompt, "width": req.width, "height": req.height,
            "steps": req.steps, "seed": -1 if req.seed is None else req.seed, "batch_size": req.count, "n_iter": 1,
            "send_images": True, "save_images": False, **req.extra,
        }
        if self.config.model:
            # Per-request checkpoint that does not change the WebUI's global selection.
            payload.setdefault("override_settings", {})["sd_model_checkpoint"] = self.config.model
            payload.setdefault("override_settings_restore_afterwards", True)
        body = self.json(self.request("POST", "/sdapi/v1/txt2img", deadline, submitted=True, json=payload))
        info = parse_info(body.get("info") if isinstance(body, dict) else None)
        encoded = body.get("images") if isinstance(body, dict) else None
        if not isinstance(encoded, list) or not encoded:
            raise BackendError("The a1111 backend answered without images.")
        first = info.get("index_of_first_image", 0)
        images = [decode_image(item) for item in encoded[first if isinstance(first, int) else 0:]]
        seed = info.get("seed", req.seed)
        return ImageResult(images=images, seed=seed if isinstance(seed, int) else req.seed,
                           seconds=deadline.elapsed(),
                           usage={"images": len(images), "all_seeds": info.get("all_seeds", []),
                                  "model": info.get("sd_model_name") or self.config.model})

    def error_message(self, response: httpx.Response) -> str:
        """FastAPI's `{"detail": [...]}` on validation, the WebUI's `{"error", "errors"}` on exceptions."""
        body = json_or_none(response)
        if isinstance(body, dict):
            detail = body.get("detail")
            if isinstance(detail, list) and detail and isinstance(detail[0], dict):
                return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}" for d in detail)
            if "error" in body:
                words = [str(body[k]) for k in ("error", "errors", "detail") if body.get(k)]
                return ": ".join(words)
        return super().error_message(response)

    def check(self, deadline: Deadline) -> str:
        models = self.json(self.request("GET", "/sdapi/v1/sd-models", deadline, submitted=False))
        if not isinstance(models, list):
            raise BackendError("The a1111 backend answered /sdapi/v1/sd-models without a list.")
        names = {m.get("title") for m in models if isinstance(m, dict)} | {
            m.get("model_name") for m in models if isinstance(m, dict)}
        if self.config.model and self.config.model not in names:
            raise BackendError(f"The a1111 backend has no checkpoint {self.config.model!r}.")
        return f"WebUI API up, {len(models)} checkpoint(s)"


def parse_info(info: Any) -> dict[str, Any]:
    """`info` is a JSON document inside a string; an unreadable one only costs us the seed."""
    if isinstance(info, dict):
        return info
    if isinstance(info, str):
        try:
            value = json.loads(info)
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def decode_image(item: Any) -> bytes:
    if not isinstance(item, str):
        raise BackendError("The a1111 backend returned an image that is not base64 text.")
    if item.startswith("data:"):
        item = item.partition(",")[2]
    try:
        return base64.b64decode(item, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BackendError("The a1111 backend returned an image that is not valid base64.") from exc


