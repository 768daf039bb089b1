"""Any OpenAI-compatible endpoint: OpenAI itself, Ollama, vLLM, llama.cpp server, LocalAI.

`base_url` may be given with or without the trailing `/v1` (OpenAI's docs include it, Ollama's
root URL does not). Servers that ignore `n` (Ollama, llama.cpp) return one choice; the missing
variants are asked for again so callers always get `n` texts.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import httpx

from content.generation.backends.base import (
    BackendConfig,
    BackendError,
    Deadline,
    HttpBackend,
    ImageRequest,
    ImageResult,
    TextRequest,
    TextResult,
)
from core.http import json_or_none


class OpenAIBackend(HttpBackend):
    kind = "openai"

    def __init__(self, config: BackendConfig | Mapping[str, Any]) -> None:
        super().__init__(config)
        self.prefix = "" if self.config.base_url.endswith("/v1") else "/v1"
        self.max_tokens_field = str(self.config.options.get("max_tokens_field") or "max_tokens")

    def complete(self, req: TextRequest) -> TextResult:
        if not self.config.model:
            raise BackendError("The openai backend needs a model name for chat completions.")
        deadline = Deadline(self.config.timeout)
        messages = ([{"role": "system", "content": req.system}] if req.system else []) + [
            {"role": "user", "content": req.prompt}]
        texts: list[str] = []
        tokens_in = tokens_out = 0
        for _ in range(req.n):
            payload = {"model": self.config.model, "messages": messages, self.max_tokens_field: req.max_tokens,
                       "temperature": req.temperature, "n": req.n - len(texts)}
            body = self.json(self.request("POST", f"{self.prefix}/chat/completions", deadline, submitted=True,
                                          json=payload))
            choices = body.get("choices") if isinstance(body, dict) else None
            if not isinstance(choices, list) or not choices:
                raise BackendError("The openai backend answered without choices.")
            texts.extend(choice_text(choice) for choice in choices)
            usage = body.get("usage") or {}
            tokens_in += int(usage.get("prompt_tokens") or 0)
            tokens_out += int(usage.get("completion_tokens") or 0)
            if len(texts) >= req.n:
                break
        return TextResult(texts=texts[:req.n], tokens_in=tokens_in, tokens_out=tokens_out, seconds=deadline.elapsed())

    def generate_images(self, req: ImageRequest) -> ImageResult:
        deadline = Deadline(self.config.timeout)
        size = f"{req.width}x{req.height}"
        payload: dict[str, Any] = {"prompt": req.prompt, "n": req.count, "size": size, **req.extra}
        if self.config.model:
            payload["model"] = self.config.model
        if self.config.options.get("response_format", True):
            # gpt-image models always answer base64 and reject the field; config can switch it off.
            payload.setdefault("response_format", "b64_json")
        body = self.json(self.request("POST", f"{self.prefix}/images/generations", deadline, submitted=True,
                                      json=payload))
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            raise BackendError("The openai backend answered without images.")
        images = [self.image_bytes(item, deadline) for item in data]
        usage = {"images": len(images), **(body.get("usage") or {})}
        return ImageResult(images=images, seed=None, seconds=deadline.elapsed(), usage=usage)

    def image_bytes(self, item: Mapping[str, Any], deadline: Deadline) -> bytes:
        if isinstance(item.get("b64_json"), str):
            try:
                return base64.b64decode(item["b64_json"], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BackendError("The openai backend returned an image that is not valid base64.") from exc
        if isinstance(item.get("url"), str):
            # Some servers ignore response_format and hand out short-lived signed URLs instead,
            # often on another host (blob storage) that must not see the API key.
            return self.request("GET", item["url"], deadline, submitted=True, anonymous=True).content
        raise BackendError("The openai backend returned an image entry with neither b64_json nor url.")

    def failure(self, response: httpx.Response) -> Any:
        """A 429 is normally "slow down", but `insufficient_quota` is a billing refusal that waiting won't fix."""
        error = self.error_body(response)
        if response.status_code == 429 and error.get("code") == "insufficient_quota":
            return BackendError(f"openai HTTP 429: {self.scrub(str(error.get('message', '')))}", status=429)
        return super().failure(response)

    def error_body(self, response: httpx.Response) -> dict[str, Any]:
        body = json_or_none(response)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return body["error"]
        return {}

    def error_message(self, response: httpx.Response) -> str:
        error = self.error_body(response)
        if error:
            kind = error.get("code") or error.get("type")
            return f"{error.get('message', '')}" + (f" ({kind})" if kind else "")
        return super().error_message(response)

    def check(self, deadline: Deadline) -> str:
        body = self.json(self.request("GET", f"{self.prefix}/models", deadline, submitted=False))
        ids = [m.get("id") for m in body.get("data", []) if isinstance(m, dict)] if isinstance(body, dict) else []
        if self.config.model and self.config.model not in ids:
            raise BackendError(f"The openai backend does not list the model {self.config.model!r}.")
        return f"{len(ids)} model(s) available"


def choice_text(choice: Any) -> str:
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise BackendError("The openai backend returned a choice without a message.")
    if message.get("refusal"):
        raise BackendError(f"The model refused: {str(message['refusal'])[:300]}")
    content = message.get("content")
    if not isinstance(content, str):
        raise BackendError("The openai backend returned a message without text content.")
    return content.strip()
