"""ComfyUI over its HTTP API: queue a workflow graph, poll its history, download the saved images.

A workflow is ComfyUI's "API format" graph (Workflow → Export (API)) in which values to fill are
written as placeholders: `"{{prompt}}"`, `"{{negative_prompt}}"`, `"{{width}}"`, `"{{height}}"`,
`"{{steps}}"`, `"{{seed}}"`, `"{{batch_size}}"`, `"{{model}}"`, plus any key of `ImageRequest.extra`.
A placeholder that is the whole value keeps its type (numbers stay numbers); one inside a longer
string is substituted as text, so "masterpiece, {{prompt}}" works.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from content.generation.backends.base import (
    BackendCancelled,
    BackendConfig,
    BackendConfigError,
    BackendError,
    BackendTimeout,
    Deadline,
    HttpBackend,
    ImageRequest,
    ImageResult,
)
from core.http import json_or_none

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
WHOLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
MAX_SEED = 2**32 - 1

DEFAULT_WORKFLOW: dict[str, Any] = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "{{model}}"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{negative_prompt}}", "clip": ["4", 1]}},
    "5": {"class_type": "EmptyLatentImage",
          "inputs": {"width": "{{width}}", "height": "{{height}}", "batch_size": "{{batch_size}}"}},
    "3": {"class_type": "KSampler",
          "inputs": {"seed": "{{seed}}", "steps": "{{steps}}", "cfg": "{{cfg}}", "sampler_name": "{{sampler_name}}",
                     "scheduler": "{{scheduler}}", "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0],
                     "negative": ["7", 0], "latent_image": ["5", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "atelier", "images": ["8", 0]}},
}
DEFAULT_VALUES: dict[str, Any] = {"cfg": 7.0, "sampler_name": "euler", "scheduler": "normal"}


def fill_workflow(workflow: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `workflow` with every placeholder replaced; an unfilled one is a config error,
    caught here rather than as a confusing validation failure inside ComfyUI."""
    missing: set[str] = set()

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        if isinstance(node, str):
            whole = WHOLE.match(node)
            if whole:
                if whole.group(1) not in values:
                    missing.add(whole.group(1))
                    return node
                return values[whole.group(1)]

            def text(match: re.Match) -> str:
                if match.group(1) not in values:
                    missing.add(match.group(1))
                    return match.group(0)
                return str(values[match.group(1)])

            return PLACEHOLDER.sub(text, node)
        return node

    filled = fill(copy.deepcopy(dict(workflow)))
    if missing:
        names = ", ".join(sorted(missing))
        raise BackendConfigError(f"The ComfyUI workflow has placeholders without a value: {names}.")
    return filled


def load_workflow(value: Any) -> dict[str, Any]:
    """Accept the graph as a dict or as JSON text (admin stores it as text)."""
    if value is None or value == "":
        return DEFAULT_WORKFLOW
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise BackendConfigError(f"The ComfyUI workflow is not valid JSON: {exc}") from exc
    if not isinstance(value, dict) or not value:
        raise BackendConfigError("The ComfyUI workflow must be a JSON object of nodes (API format).")
    if "nodes" in value and "links" in value:
        raise BackendConfigError("This is ComfyUI's UI format; export the workflow with 'Export (API)'.")
    if "prompt" not in {m.group(1) for m in PLACEHOLDER.finditer(json.dumps(value))}:
        raise BackendConfigError("The ComfyUI workflow has no {{prompt}} placeholder.")
    return value


class ComfyUIBackend(HttpBackend):
    kind = "comfyui"

    def __init__(self, config: BackendConfig | Mapping[str, Any]) -> None:
        super().__init__(config)
        self.workflow = load_workflow(self.config.options.get("workflow"))
        self.client_id = str(self.config.options.get("client_id") or uuid.uuid4())

    def generate_images(self, req: ImageRequest) -> ImageResult:
        deadline = Deadline(self.config.timeout)
        seed = req.seed if req.seed is not None else secrets.randbelow(MAX_SEED)
        model = {"model": self.config.model} if self.config.model else {}
        values = {**DEFAULT_VALUES, **model, **req.extra,
                  "prompt": req.prompt, "negative_prompt": req.negative_prompt, "width": req.width,
                  "height": req.height, "steps": req.steps, "seed": seed, "batch_size": req.count}
        graph = fill_workflow(self.workflow, values)
        response = self.request("POST", "/prompt", deadline, submitted=True,
                                json={"prompt": graph, "client_id": self.client_id})
        body = self.json(response)
        prompt_id = body.get("prompt_id") if isinstance(body, dict) else None
        if not prompt_id:
            raise BackendError(f"ComfyUI accepted the workflow without a prompt_id: {str(body)[:200]}")
        try:
            entry = self.wait_for(prompt_id, deadline, should_stop=req.should_stop)
        except (BackendTimeout, BackendCancelled):
            self.forget(prompt_id)
            raise
        images = [self.request("GET", "/view", deadline, submitted=True, params=ref).content
                  for ref in output_images(entry)]
        if not images:
            raise BackendError(f"ComfyUI finished prompt {prompt_id} without saving any image; "
                               "does the workflow end in a SaveImage node?")
        return ImageResult(images=images, seed=seed, seconds=deadline.elapsed(),
                           usage={"images": len(images), "prompt_id": prompt_id})

    def wait_for(self, prompt_id: str, deadline: Deadline,
                 should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Poll `/history/{id}` until the prompt completes or fails; it is `{}` while queued or running."""
        while True:
            if should_stop is not None and should_stop():
                raise BackendCancelled(f"Cancelled while ComfyUI was working on prompt {prompt_id}.")
            body = self.json(self.request("GET", f"/history/{prompt_id}", deadline, submitted=True))
            entry = body.get(prompt_id) if isinstance(body, dict) else None
            if isinstance(entry, dict):
                status = entry.get("status") or {}
                if status.get("status_str") == "error":
                    raise BackendError(f"ComfyUI failed prompt {prompt_id}: {execution_error(status)}")
                if status.get("completed", True) and entry.get("outputs") is not None:
                    return entry
            wait = min(self.config.poll_interval, deadline.remaining())
            if wait <= 0:
                raise self.timed_out(deadline, submitted=True)
            time.sleep(wait)

    def forget(self, prompt_id: str) -> None:
        """Best effort: drop a timed-out prompt from the queue so it does not run unobserved.
        (`/interrupt` is not used: on older ComfyUI it stops whatever is running, maybe someone else's.)"""
        with contextlib.suppress(httpx.HTTPError):
            self.http.post("/queue", json={"delete": [prompt_id]}, timeout=self.config.connect_timeout)

    def error_message(self, response: httpx.Response) -> str:
        body = json_or_none(response)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return prompt_error(body)
        return super().error_message(response)

    def check(self, deadline: Deadline) -> str:
        body = self.json(self.request("GET", "/system_stats", deadline, submitted=False))
        system = body.get("system", {}) if isinstance(body, dict) else {}
        devices = ", ".join(str(d.get("name")) for d in body.get("devices", []) if isinstance(d, dict))
        return f"ComfyUI {system.get('comfyui_version', '?')} on {devices or 'unknown device'}"


def output_images(entry: Mapping[str, Any]) -> list[dict[str, str]]:
    """References of saved images, node by node; `temp` images come from preview nodes and are skipped."""
    refs = []
    for output in (entry.get("outputs") or {}).values():
        for image in output.get("images", []) if isinstance(output, dict) else []:
            if image.get("type", "output") == "output" and image.get("filename"):
                refs.append({"filename": image["filename"], "subfolder": image.get("subfolder", ""),
                             "type": "output"})
    return refs


def prompt_error(body: Mapping[str, Any]) -> str:
    """ComfyUI's validation answer: a top-level error plus per-node errors naming the bad input."""
    error = body["error"]
    parts = [str(error.get("message") or error.get("type") or "error")]
    if error.get("details"):
        parts.append(str(error["details"]))
    for node_id, node in (body.get("node_errors") or {}).items():
        for item in node.get("errors", []) if isinstance(node, dict) else []:
            detail = f"{item.get('message', '')}: {item.get('details', '')}".strip(": ")
            parts.append(f"{node.get('class_type', 'node')} (node {node_id}): {detail}")
    return "; ".join(parts)


def execution_error(status: Mapping[str, Any]) -> str:
    for message in status.get("messages") or []:
        if isinstance(message, list) and len(message) == 2 and message[0] == "execution_error":
            data = message[1]
            return (f"{data.get('node_type', 'node')} (node {data.get('node_id')}): "
                    f"{data.get('exception_type', '')}: {data.get('exception_message', '')}".strip())
    return "execution failed without an error message"
