"""Fake generation servers on loopback that answer with each backend's real JSON: ComfyUI
(prompt queue, history, view), the A1111/Forge WebUI API and an OpenAI-compatible server."""

from __future__ import annotations

import base64
import io
import itertools
import json
import time
import uuid
from typing import Any

from PIL import Image

from tests.scheduling.fakes.base import FakePlatform, Received, Reply


def png_bytes(seed: int, size: tuple[int, int] = (8, 8)) -> bytes:
    """A tiny real PNG whose colour depends on `seed`, so every image is distinguishable."""
    buffer = io.BytesIO()
    Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256)).save(buffer, "PNG")
    return buffer.getvalue()


class FakeComfyUI(FakePlatform):
    """Queued prompts stay absent from `/history/{id}` for `polls_before_done` polls, as ComfyUI
    answers `{}` until a prompt has run; then the entry lists the SaveImage outputs."""

    routes = [
        ("POST", r"/prompt", "queue_prompt"),
        ("GET", r"/history/(?P<prompt_id>[^/]+)", "history"),
        ("GET", r"/view", "view"),
        ("GET", r"/system_stats", "system_stats"),
        ("POST", r"/queue", "queue"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.checkpoints = ["sd_xl_base_1.0.safetensors", "persona_v2.safetensors"]
        self.polls_before_done = 2
        self.never_finish = False
        self.execution_error: dict[str, Any] | None = None
        self.prompts: dict[str, dict[str, Any]] = {}
        self.files: dict[tuple[str, str], bytes] = {}
        self.counter = itertools.count(1)

    def queue_prompt(self, req: Received, match: Any) -> Reply:
        body = req.json()
        graph = body.get("prompt")
        if not isinstance(graph, dict):
            return Reply(400, {"error": {"type": "invalid_prompt", "message": "Cannot execute because a node is "
                               "missing the class_type property.", "details": "", "extra_info": {}},
                               "node_errors": {}})
        node_errors = {}
        for node_id, node in graph.items():
            if node.get("class_type") == "CheckpointLoaderSimple":
                name = node["inputs"].get("ckpt_name")
                if name not in self.checkpoints:
                    node_errors[node_id] = {
                        "errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                    "details": f"ckpt_name: '{name}' not in {self.checkpoints}",
                                    "extra_info": {"input_name": "ckpt_name"}}],
                        "dependent_outputs": ["9"], "class_type": "CheckpointLoaderSimple"}
        if node_errors:
            return Reply(400, {"error": {"type": "prompt_outputs_failed_validation",
                                         "message": "Prompt outputs failed validation", "details": "",
                                         "extra_info": {}}, "node_errors": node_errors})
        prompt_id = str(uuid.uuid4())
        number = next(self.counter)
        batch = next((n["inputs"]["batch_size"] for n in graph.values() if n["class_type"] == "EmptyLatentImage"), 1)
        seed = next((n["inputs"]["seed"] for n in graph.values() if n["class_type"] == "KSampler"), 0)
        images = []
        for i in range(batch):
            filename = f"atelier_{number:05d}_{i}_.png"
            self.files[(filename, "")] = png_bytes(seed + i)
            images.append({"filename": filename, "subfolder": "", "type": "output"})
        # A preview node's temp image must not be mistaken for a result.
        self.files[("ComfyUI_temp_xyz_00001_.png", "")] = png_bytes(999)
        self.prompts[prompt_id] = {"graph": graph, "number": number, "polls": 0, "images": images,
                                   "client_id": body.get("client_id")}
        return Reply(200, {"prompt_id": prompt_id, "number": number, "node_errors": {}})

    def history(self, req: Received, match: Any) -> Reply:
        prompt_id = match["prompt_id"]
        entry = self.prompts.get(prompt_id)
        if entry is None:
            return Reply(200, {})
        entry["polls"] += 1
        if self.never_finish or entry["polls"] <= self.polls_before_done:
            return Reply(200, {})
        started = ["execution_start", {"prompt_id": prompt_id, "timestamp": int(time.time() * 1000)}]
        if self.execution_error:
            error = {"prompt_id": prompt_id, "node_id": "3", "node_type": "KSampler", "executed": ["4", "5"],
                     "traceback": ["..."], "current_inputs": {}, "current_outputs": {}, **self.execution_error}
            return Reply(200, {prompt_id: {
                "prompt": [entry["number"], prompt_id, entry["graph"], {}, ["9"]], "outputs": {},
                "status": {"status_str": "error", "completed": False,
                           "messages": [started, ["execution_error", error]]}, "meta": {}}})
        return Reply(200, {prompt_id: {
            "prompt": [entry["number"], prompt_id, entry["graph"], {}, ["9"]],
            "outputs": {"9": {"images": entry["images"]},
                        "12": {"images": [{"filename": "ComfyUI_temp_xyz_00001_.png", "subfolder": "",
                                           "type": "temp"}]}},
            "status": {"status_str": "success", "completed": True,
                       "messages": [started, ["execution_success", {"prompt_id": prompt_id}]]},
            "meta": {"9": {"node_id": "9", "display_node": "9", "real_node_id": "9"}}}})

    def view(self, req: Received, match: Any) -> Reply:
        key = (req.query.get("filename", [""])[0], req.query.get("subfolder", [""])[0])
        if req.query.get("type", ["output"])[0] != "output" or key not in self.files:
            return Reply(404, b"")
        return Reply(200, self.files[key], headers={"Content-Type": "image/png"})

    def system_stats(self, req: Received, match: Any) -> Reply:
        return Reply(200, {"system": {"os": "posix", "comfyui_version": "0.3.40", "python_version": "3.12.3",
                                      "embedded_python": False},
                           "devices": [{"name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", "type": "cuda",
                                        "index": 0, "vram_total": 25386352640, "vram_free": 24000000000}]})

    def queue(self, req: Received, match: Any) -> Reply:
        for prompt_id in req.json().get("delete", []):
            self.prompts.pop(prompt_id, None)
        return Reply(200, b"")


class FakeA1111(FakePlatform):
    """The WebUI's `/sdapi/v1/txt2img`: base64 images, a batch grid first, `info` as a JSON string."""

    routes = [
        ("POST", r"/sdapi/v1/txt2img", "txt2img"),
        ("GET", r"/sdapi/v1/sd-models", "sd_models"),
    ]

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.credentials = credentials
        self.return_grid = True
        self.served: list[bytes] = []

    def authorised(self, req: Received) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return req.headers.get("authorization") == f"Basic {expected}"

    def txt2img(self, req: Received, match: Any) -> Reply:
        if not self.authorised(req):
            return Reply(401, {"detail": "Incorrect username or password"}, headers={"WWW-Authenticate": "Basic"})
        body = req.json()
        bad = [{"loc": ["body", name], "msg": "value is not a valid integer", "type": "type_error.integer"}
               for name in ("width", "height", "steps", "batch_size") if not isinstance(body.get(name, 1), int)]
        if bad:
            return Reply(422, {"detail": bad})
        seed = body.get("seed", -1)
        seed = 1234567 if seed == -1 else seed
        batch = body.get("batch_size", 1)
        self.served = [png_bytes(seed + i) for i in range(batch)]
        images = list(self.served)
        first = 0
        if self.return_grid and batch > 1:
            images.insert(0, png_bytes(500, (16, 8)))
            first = 1
        info = {"prompt": body["prompt"], "all_prompts": [body["prompt"]] * batch,
                "negative_prompt": body.get("negative_prompt", ""), "seed": seed,
                "all_seeds": [seed + i for i in range(batch)], "subseed": 42, "width": body.get("width", 512),
                "height": body.get("height", 512), "sampler_name": "Euler a", "steps": body.get("steps", 20),
                "sd_model_name": "persona_v2", "index_of_first_image": first, "infotexts": []}
        return Reply(200, {"images": [base64.b64encode(i).decode() for i in images], "parameters": body,
                           "info": json.dumps(info)})

    def sd_models(self, req: Received, match: Any) -> Reply:
        return Reply(200, [{"title": "persona_v2.safetensors [6ce0161689]", "model_name": "persona_v2",
                            "hash": "6ce0161689", "sha256": "6ce0...", "filename": "/models/persona_v2.safetensors",
                            "config": None}])


class FakeOpenAI(FakePlatform):
    """Chat completions and image generations with OpenAI's bodies and errors. `max_choices=1`
    behaves like Ollama or llama.cpp, which ignore `n`."""

    routes = [
        ("POST", r"/v1/chat/completions", "chat"),
        ("POST", r"/v1/images/generations", "images"),
        ("GET", r"/v1/models", "list_models"),
        ("GET", r"/files/(?P<name>[^/]+)", "download"),
    ]

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = ["gpt-4o-mini", "gpt-image-1", "dall-e-3"]
        self.max_choices: int | None = None
        self.refuse = False
        self.chat_reply: str | None = None  # a fixed answer, as a model asked for a numbered list gives
        self.served: list[bytes] = []
        self.files: dict[str, bytes] = {}
        self.counter = itertools.count(1)

    def denied(self, req: Received) -> Reply | None:
        sent = req.headers.get("authorization", "")
        if self.api_key is None or sent == f"Bearer {self.api_key}":
            return None
        # OpenAI echoes the key it got (masked); this fake echoes it whole to prove it is scrubbed.
        key = sent.removeprefix("Bearer ")
        return Reply(401, {"error": {"message": f"Incorrect API key provided: {key}. You can find your API key at "
                                                "https://platform.openai.com/account/api-keys.",
                                     "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})

    def unknown_model(self, model: str) -> Reply:
        return Reply(404, {"error": {"message": f"The model `{model}` does not exist or you do not have access to it.",
                                     "type": "invalid_request_error", "param": None, "code": "model_not_found"}})

    def chat(self, req: Received, match: Any) -> Reply:
        denied = self.denied(req)
        if denied:
            return denied
        body = req.json()
        if body.get("model") not in self.models:
            return self.unknown_model(body.get("model"))
        n = body.get("n", 1)
        if self.max_choices:
            n = min(n, self.max_choices)
        turn = next(self.counter)
        choices = []
        for i in range(n):
            content = self.chat_reply if self.chat_reply is not None else f"  Caption {turn}.{i} ✨ "
            message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
            if self.refuse:
                message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
            choices.append({"index": i, "message": message, "logprobs": None, "finish_reason": "stop"})
        return Reply(200, {"id": f"chatcmpl-{turn}", "object": "chat.completion", "created": int(time.time()),
                           "model": body["model"], "choices": choices, "system_fingerprint": "fp_test",
                           "usage": {"prompt_tokens": 21, "completion_tokens": 9 * n, "total_tokens": 21 + 9 * n}})

    def images(self, req: Received, match: Any) -> Reply:
        denied = self.denied(req)
        if denied:
            return denied
        body = req.json()
        if body.get("model", "dall-e-2") not in [*self.models, "dall-e-2"]:
            return self.unknown_model(body["model"])
        if body.get("size") not in ("1024x1024", "1024x1536", "1536x1024", "256x256", "512x512"):
            return Reply(400, {"error": {"message": f"Invalid value: '{body.get('size')}'. Supported values are: "
                                                    "'1024x1024', '1024x1536', and '1536x1024'.",
                                         "type": "invalid_request_error", "param": "size",
                                         "code": "invalid_value"}})
        self.served = [png_bytes(700 + i) for i in range(body.get("n", 1))]
        if body.get("response_format") == "url":
            for i, image in enumerate(self.served):
                self.files[f"img-{i}.png"] = image
            data = [{"url": f"{self.url}/files/img-{i}.png?se=2026-11-24&sig=abc", "revised_prompt": body["prompt"]}
                    for i in range(len(self.served))]
        else:
            data = [{"b64_json": base64.b64encode(b).decode(), "revised_prompt": body["prompt"]} for b in self.served]
        return Reply(200, {"created": int(time.time()), "data": data,
                           "usage": {"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210}})

    def list_models(self, req: Received, match: Any) -> Reply:
        denied = self.denied(req)
        if denied:
            return denied
        return Reply(200, {"object": "list", "data": [{"id": m, "object": "model", "created": 1700000000,
                                                       "owned_by": "system"} for m in self.models]})

    def download(self, req: Received, match: Any) -> Reply:
        if match["name"] not in self.files or req.query.get("sig") != ["abc"]:
            return Reply(403, "<Error><Code>AuthenticationFailed</Code></Error>")
        return Reply(200, self.files[match["name"]], headers={"Content-Type": "image/png"})
