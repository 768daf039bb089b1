"""Generation backends against fake ComfyUI, A1111 and OpenAI-compatible servers on loopback."""

from __future__ import annotations

import base64
import json
import logging
import socket

import pytest

from content.generation.backends import (
    A1111Backend,
    Backend,
    BackendConfigError,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ComfyUIBackend,
    ImageRequest,
    OpenAIBackend,
    TextRequest,
    build_backend,
)
from content.generation.backends.comfyui import DEFAULT_WORKFLOW
from tests.content.fakes_generation import FakeA1111, FakeComfyUI, FakeOpenAI
from tests.scheduling.fakes.base import Reply, serve

API_KEY = "sk-test-0123456789abcdefSECRET"
# The fake backends run on loopback, which the guarded client refuses unless allowed.
pytestmark = pytest.mark.usefixtures("allow_loopback")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def comfy():
    with serve(FakeComfyUI()) as fake:
        yield fake


@pytest.fixture
def a1111():
    with serve(FakeA1111()) as fake:
        yield fake


@pytest.fixture
def openai():
    with serve(FakeOpenAI(api_key=API_KEY)) as fake:
        yield fake


def comfy_backend(fake: FakeComfyUI, **config) -> ComfyUIBackend:
    return ComfyUIBackend({"base_url": fake.url, "model": "persona_v2.safetensors", "poll_interval": 0.02,
                           "timeout": 5, **config})


def openai_backend(fake: FakeOpenAI, **config) -> OpenAIBackend:
    return OpenAIBackend({"base_url": fake.url, "api_key": API_KEY, "model": "gpt-4o-mini", "timeout": 5, **config})


# ComfyUI


def test_comfyui_fills_the_default_workflow_polls_history_and_downloads_the_saved_images(comfy):
    backend = comfy_backend(comfy)
    req = ImageRequest("portrait of Mila, golden hour", negative_prompt="blurry", width=832, height=1216,
                       steps=28, seed=4242, count=2)

    result = backend.generate_images(req)

    [submit] = comfy.calls("POST", r"/prompt")
    sent = submit.json()
    graph = sent["prompt"]
    assert sent["client_id"] == backend.client_id
    assert graph["4"]["inputs"]["ckpt_name"] == "persona_v2.safetensors"
    assert graph["6"]["inputs"]["text"] == "portrait of Mila, golden hour"
    assert graph["7"]["inputs"]["text"] == "blurry"
    assert graph["5"]["inputs"] == {"width": 832, "height": 1216, "batch_size": 2}
    assert graph["3"]["inputs"]["seed"] == 4242 and graph["3"]["inputs"]["steps"] == 28
    assert graph["3"]["inputs"]["cfg"] == 7.0 and graph["3"]["inputs"]["latent_image"] == ["5", 0]
    assert "{{" not in json.dumps(graph)
    assert DEFAULT_WORKFLOW["6"]["inputs"]["text"] == "{{prompt}}"  # the template itself is untouched

    [prompt_id] = comfy.prompts
    assert len(comfy.calls("GET", rf"/history/{prompt_id}")) == comfy.polls_before_done + 1
    entry = comfy.prompts[prompt_id]
    assert result.images == [comfy.files[(ref["filename"], "")] for ref in entry["images"]]
    assert result.images[0].startswith(b"\x89PNG") and result.images[0] != result.images[1]
    views = comfy.calls("GET", r"/view")
    assert [v.query["type"] for v in views] == [["output"], ["output"]]  # the preview's temp image is skipped
    assert result.seed == 4242
    assert result.usage == {"images": 2, "prompt_id": prompt_id}
    assert result.seconds > 0 and result.cost_minor is None


def test_comfyui_picks_and_reports_a_seed_when_none_is_given(comfy):
    result = comfy_backend(comfy).generate_images(ImageRequest("a cat"))
    graph = comfy.calls("POST", r"/prompt")[0].json()["prompt"]
    assert isinstance(result.seed, int) and 0 <= result.seed < 2**32
    assert graph["3"]["inputs"]["seed"] == result.seed


def test_comfyui_custom_workflow_json_with_embedded_placeholders_and_extra_values(comfy):
    workflow = json.loads(json.dumps(DEFAULT_WORKFLOW))
    workflow["6"]["inputs"]["text"] = "masterpiece, {{prompt}}, {{ style }}"
    workflow["3"]["inputs"]["cfg"] = "{{cfg}}"
    workflow["10"] = {"class_type": "LoraLoader", "inputs": {"lora_name": "{{lora}}", "strength_model": 0.8}}
    backend = comfy_backend(comfy, workflow=json.dumps(workflow))

    backend.generate_images(ImageRequest("Mila on a beach", seed=1, extra={"style": "film grain", "cfg": 4.5,
                                                                           "lora": "mila.safetensors"}))

    graph = comfy.calls("POST", r"/prompt")[0].json()["prompt"]
    assert graph["6"]["inputs"]["text"] == "masterpiece, Mila on a beach, film grain"
    assert graph["3"]["inputs"]["cfg"] == 4.5
    assert graph["10"]["inputs"]["lora_name"] == "mila.safetensors"


def test_comfyui_unfilled_placeholder_is_a_config_error_before_any_request(comfy):
    workflow = {**DEFAULT_WORKFLOW, "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "{{lora}}"}}}
    with pytest.raises(BackendConfigError, match="lora"):
        comfy_backend(comfy, workflow=workflow).generate_images(ImageRequest("x"))
    with pytest.raises(BackendConfigError, match="model"):
        ComfyUIBackend({"base_url": comfy.url}).generate_images(ImageRequest("x"))
    assert comfy.requests == []


@pytest.mark.parametrize(("workflow", "message"), [
    ("{not json", "not valid JSON"),
    ({"nodes": [], "links": []}, "Export \\(API\\)"),
    ({"1": {"class_type": "SaveImage", "inputs": {}}}, "no \\{\\{prompt\\}\\}"),
])
def test_comfyui_rejects_unusable_workflows_at_construction(workflow, message):
    with pytest.raises(BackendConfigError, match=message):
        ComfyUIBackend({"base_url": "http://127.0.0.1:1", "workflow": workflow})


def test_comfyui_validation_error_json_becomes_backend_error_with_node_details(comfy):
    backend = comfy_backend(comfy, model="missing.safetensors")
    with pytest.raises(BackendError) as caught:
        backend.generate_images(ImageRequest("x"))
    message = str(caught.value)
    assert caught.value.status == 400
    assert "Prompt outputs failed validation" in message
    assert "CheckpointLoaderSimple (node 4): Value not in list: ckpt_name: 'missing.safetensors'" in message
    assert comfy.calls("GET", r"/history/.*") == []


def test_comfyui_execution_error_in_history_becomes_backend_error(comfy):
    comfy.execution_error = {"exception_type": "torch.OutOfMemoryError",
                             "exception_message": "Allocation on device 0 would exceed allowed memory."}
    with pytest.raises(BackendError, match=r"KSampler \(node 3\): torch.OutOfMemoryError: Allocation on device"):
        comfy_backend(comfy).generate_images(ImageRequest("x"))
    assert comfy.calls("GET", r"/view") == []


def test_comfyui_prompt_that_never_finishes_times_out_and_is_removed_from_the_queue(comfy):
    comfy.never_finish = True
    backend = comfy_backend(comfy, timeout=0.4)
    with pytest.raises(BackendTimeout, match=r"did not finish within 0\.4 s"):
        backend.generate_images(ImageRequest("x"))
    polls = comfy.calls("GET", r"/history/.*")
    assert len(polls) >= 3
    prompt_id = polls[0].path.removeprefix("/history/")
    [delete] = comfy.calls("POST", r"/queue")
    assert delete.json() == {"delete": [prompt_id]}
    assert comfy.prompts == {}


def test_comfyui_slow_submit_beyond_the_deadline_is_a_timeout_not_a_retryable_outage(comfy):
    comfy.fail_next("POST", r"/prompt", Reply(200, {"prompt_id": "late"}, delay=1.5))
    with pytest.raises(BackendTimeout):
        comfy_backend(comfy, timeout=0.3).generate_images(ImageRequest("x"))


def test_comfyui_down_is_unavailable_and_unhealthy():
    backend = ComfyUIBackend({"base_url": closed_port_url(), "model": "m"})
    with pytest.raises(BackendUnavailable, match=r"Could not reach the comfyui backend at http://127\.0\.0\.1"):
        backend.generate_images(ImageRequest("x"))
    health = backend.health()
    assert not health.ok and "Could not reach" in health.detail


def test_comfyui_health_and_no_text(comfy):
    backend = comfy_backend(comfy)
    health = backend.health()
    assert health.ok and "ComfyUI 0.3.40" in health.detail and "RTX 4090" in health.detail
    with pytest.raises(NotImplementedError):
        backend.complete(TextRequest("", "write a caption"))


# Automatic1111 / Forge


def test_a1111_sends_txt2img_and_decodes_the_batch_without_the_grid(a1111):
    backend = A1111Backend({"base_url": a1111.url, "model": "persona_v2.safetensors [6ce0161689]", "timeout": 5})
    result = backend.generate_images(ImageRequest("Mila, studio light", negative_prompt="lowres", width=768,
                                                  height=1024, steps=25, count=3,
                                                  extra={"sampler_name": "DPM++ 2M", "cfg_scale": 5}))

    [call] = a1111.calls("POST", r"/sdapi/v1/txt2img")
    sent = call.json()
    assert {k: sent[k] for k in ("prompt", "negative_prompt", "width", "height", "steps", "seed", "batch_size")} == {
        "prompt": "Mila, studio light", "negative_prompt": "lowres", "width": 768, "height": 1024, "steps": 25,
        "seed": -1, "batch_size": 3}
    assert sent["sampler_name"] == "DPM++ 2M" and sent["cfg_scale"] == 5
    assert sent["override_settings"] == {"sd_model_checkpoint": "persona_v2.safetensors [6ce0161689]"}
    assert "authorization" not in call.headers
    assert result.images == a1111.served and len(result.images) == 3
    assert result.seed == 1234567
    assert result.usage["all_seeds"] == [1234567, 1234568, 1234569]


def test_a1111_fixed_seed_single_image(a1111):
    a1111.return_grid = False
    result = A1111Backend({"base_url": a1111.url}).generate_images(ImageRequest("x", seed=77))
    assert a1111.calls("POST", r"/sdapi/v1/txt2img")[0].json()["seed"] == 77
    assert result.seed == 77 and result.images == a1111.served


def test_a1111_basic_auth_from_user_password_key_and_wrong_password_error():
    with serve(FakeA1111(credentials=("agency", "hunter2-long-password"))) as fake:
        ok = A1111Backend({"base_url": fake.url, "api_key": "agency:hunter2-long-password"})
        assert ok.generate_images(ImageRequest("x")).images == fake.served
        assert fake.requests[0].headers["authorization"].startswith("Basic ")
        bad = A1111Backend({"base_url": fake.url, "api_key": "agency:wrong-password-value"})
        with pytest.raises(BackendError, match="Incorrect username or password") as caught:
            bad.generate_images(ImageRequest("x"))
        assert "wrong-password" not in str(caught.value) and "wrong-password" not in repr(bad)


@pytest.mark.parametrize(("reply", "message"), [
    (Reply(422, {"detail": [{"loc": ["body", "width"], "msg": "value is not a valid integer",
                             "type": "type_error.integer"}]}), "a1111 HTTP 422: body.width: value is not a valid"),
    (Reply(500, {"error": "OutOfMemoryError", "detail": "", "body": "",
                 "errors": "CUDA out of memory. Tried to allocate 2.00 GiB"}),
     "a1111 HTTP 500: OutOfMemoryError: CUDA out of memory"),
    (Reply(404, {"detail": "Not Found"}), "a1111 HTTP 404: Not Found"),
])
def test_a1111_error_bodies_become_backend_errors(a1111, reply, message):
    a1111.fail_next("POST", r"/sdapi/v1/txt2img", reply)
    with pytest.raises(BackendError, match=message):
        A1111Backend({"base_url": a1111.url}).generate_images(ImageRequest("x"))


def test_a1111_busy_gateway_is_retryable(a1111):
    a1111.fail_next("POST", r"/sdapi/v1/txt2img", Reply(503, "Service Unavailable", headers={"Retry-After": "12"}))
    with pytest.raises(BackendUnavailable) as caught:
        A1111Backend({"base_url": a1111.url}).generate_images(ImageRequest("x"))
    assert caught.value.retry_after == 12 and caught.value.status == 503


def test_a1111_slow_and_down(a1111):
    a1111.fail_next("POST", r"/sdapi/v1/txt2img", Reply(200, {"images": []}, delay=1.5))
    with pytest.raises(BackendTimeout):
        A1111Backend({"base_url": a1111.url, "timeout": 0.3}).generate_images(ImageRequest("x"))
    with pytest.raises(BackendUnavailable):
        A1111Backend({"base_url": closed_port_url()}).generate_images(ImageRequest("x"))


def test_a1111_health_checks_the_configured_checkpoint(a1111):
    assert A1111Backend({"base_url": a1111.url, "model": "persona_v2"}).health().ok
    health = A1111Backend({"base_url": a1111.url, "model": "other"}).health()
    assert not health.ok and "no checkpoint 'other'" in health.detail


# OpenAI-compatible


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
def test_openai_chat_sends_bearer_and_messages_and_counts_tokens(openai, suffix):
    backend = OpenAIBackend({"base_url": openai.url + suffix, "api_key": API_KEY, "model": "gpt-4o-mini"})
    result = backend.complete(TextRequest("You are Mila's voice.", "Caption for a beach photo", max_tokens=80,
                                          temperature=0.5, n=2))

    [call] = openai.calls("POST", r"/v1/chat/completions")
    assert call.headers["authorization"] == f"Bearer {API_KEY}"
    assert call.json() == {"model": "gpt-4o-mini", "max_tokens": 80, "temperature": 0.5, "n": 2,
                           "messages": [{"role": "system", "content": "You are Mila's voice."},
                                        {"role": "user", "content": "Caption for a beach photo"}]}
    assert result.texts == ["Caption 1.0 ✨", "Caption 1.1 ✨"]
    assert (result.tokens_in, result.tokens_out) == (21, 18)


def test_openai_chat_asks_again_when_the_server_ignores_n(openai):
    openai.max_choices = 1
    result = openai_backend(openai).complete(TextRequest("", "caption", n=3))
    calls = openai.calls("POST", r"/v1/chat/completions")
    assert [c.json()["n"] for c in calls] == [3, 2, 1]
    assert "messages" in calls[0].json() and calls[0].json()["messages"] == [{"role": "user", "content": "caption"}]
    assert result.texts == ["Caption 1.0 ✨", "Caption 2.0 ✨", "Caption 3.0 ✨"]
    assert (result.tokens_in, result.tokens_out) == (63, 27)


def test_openai_chat_model_refusal_is_a_backend_error(openai):
    openai.refuse = True
    with pytest.raises(BackendError, match=r"The model refused: I can't help with that\."):
        openai_backend(openai).complete(TextRequest("", "caption"))


def test_openai_images_send_size_and_decode_b64_to_the_exact_bytes(openai):
    backend = openai_backend(openai, model="gpt-image-1")
    result = backend.generate_images(ImageRequest("Mila in Paris", width=1024, height=1536, count=2))
    [call] = openai.calls("POST", r"/v1/images/generations")
    assert call.json() == {"model": "gpt-image-1", "prompt": "Mila in Paris", "n": 2, "size": "1024x1536",
                           "response_format": "b64_json"}
    assert call.headers["authorization"] == f"Bearer {API_KEY}"
    assert result.images == openai.served and result.images[0].startswith(b"\x89PNG")
    assert result.usage["input_tokens"] == 50 and result.usage["images"] == 2 and result.seed is None


def test_openai_images_response_format_can_be_left_out(openai):
    openai_backend(openai, model="gpt-image-1", response_format=False).generate_images(ImageRequest("x"))
    assert "response_format" not in openai.calls("POST", r"/v1/images/generations")[0].json()


def test_openai_image_urls_are_fetched_without_the_api_key(openai):
    backend = openai_backend(openai, model="dall-e-3", response_format=False)
    result = backend.generate_images(ImageRequest("x", extra={"response_format": "url"}))
    [download] = openai.calls("GET", r"/files/.*")
    assert "authorization" not in download.headers
    assert result.images == openai.served


def test_openai_image_url_with_an_unusable_scheme_is_a_backend_error(openai):
    openai.fail_next("POST", r"/v1/images/generations", Reply(200, {"created": 1, "data": [{"url": "ftp://x/y.png"}]}))
    with openai_backend(openai, model="dall-e-3") as backend, pytest.raises(BackendError, match="only http and https"):
        backend.generate_images(ImageRequest("x"))


def test_openai_error_json_becomes_backend_error_with_its_message(openai):
    with pytest.raises(BackendError, match=r"Invalid value: '1000x1000'.*\(invalid_value\)") as caught:
        openai_backend(openai).generate_images(ImageRequest("x", width=1000, height=1000))
    assert caught.value.status == 400
    with pytest.raises(BackendError, match="The model `nope` does not exist"):
        openai_backend(openai, model="nope").complete(TextRequest("", "x"))


def test_openai_wrong_key_echoed_by_the_server_never_reaches_the_message(openai, caplog):
    wrong = "sk-wrong-9876543210zyxwvuLEAKED"
    caplog.set_level(logging.DEBUG)
    backend = OpenAIBackend({"base_url": openai.url, "api_key": wrong, "model": "gpt-4o-mini"})
    with pytest.raises(BackendError, match="Incorrect API key provided") as caught:
        backend.complete(TextRequest("", "x"))
    assert caught.value.status == 401
    for text in (str(caught.value), repr(caught.value), repr(backend), repr(backend.config), caplog.text):
        assert wrong not in text and "LEAKED" not in text and "sk-wrong" not in text


def test_openai_rate_limit_is_retryable_with_retry_after_but_quota_is_not(openai):
    openai.fail_next("POST", r"/v1/chat/completions", Reply(429, {"error": {
        "message": "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3.",
        "type": "requests", "param": None, "code": "rate_limit_exceeded"}}, headers={"Retry-After": "7"}))
    with pytest.raises(BackendUnavailable, match="Rate limit reached") as caught:
        openai_backend(openai).complete(TextRequest("", "x"))
    assert caught.value.retry_after == 7

    openai.fail_next("POST", r"/v1/chat/completions", Reply(429, {"error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}))
    with pytest.raises(BackendError, match="exceeded your current quota"):
        openai_backend(openai).complete(TextRequest("", "x"))


def test_openai_slow_answer_is_a_timeout_and_down_is_unavailable_without_the_key(openai, caplog):
    caplog.set_level(logging.DEBUG)
    openai.fail_next("POST", r"/v1/chat/completions", Reply(200, {"choices": []}, delay=1.5))
    with pytest.raises(BackendTimeout) as slow:  # the answer comes after 1.5 s: only the 0.3 s timeout raises this
        openai_backend(openai, timeout=0.3).complete(TextRequest("", "x"))
    with pytest.raises(BackendUnavailable) as down:
        OpenAIBackend({"base_url": closed_port_url(), "api_key": API_KEY, "model": "m"}).complete(TextRequest("", "x"))
    for exc in (slow.value, down.value):
        assert API_KEY not in str(exc) and API_KEY not in repr(exc.__cause__ or "")
    assert API_KEY not in caplog.text


def test_openai_health_lists_models(openai):
    assert openai_backend(openai).health().ok
    health = openai_backend(openai, model="llama3.1:8b").health()
    assert not health.ok and "llama3.1:8b" in health.detail


# Construction


def test_build_backend_by_kind_and_config_errors():
    for kind, cls in (("comfyui", ComfyUIBackend), ("a1111", A1111Backend), ("openai", OpenAIBackend)):
        backend = build_backend({"kind": kind, "base_url": "http://127.0.0.1:1/", "api_key": API_KEY, "model": "m"})
        assert isinstance(backend, cls) and isinstance(backend, Backend) and backend.kind == kind
        assert API_KEY not in repr(backend) and API_KEY not in repr(backend.config)
    with pytest.raises(BackendConfigError, match="Unknown backend kind 'midjourney'"):
        build_backend({"kind": "midjourney", "base_url": "http://x"})
    with pytest.raises(BackendConfigError, match="base_url"):
        build_backend({"kind": "openai", "base_url": "localhost:11434"})
    with pytest.raises(BackendConfigError, match="numbers"):
        build_backend({"kind": "openai", "base_url": "http://x", "timeout": "soon"})


def test_requests_validate_their_values():
    with pytest.raises(ValueError, match="prompt"):
        ImageRequest("  ")
    with pytest.raises(ValueError, match="count"):
        ImageRequest("x", count=0)
    with pytest.raises(ValueError, match="n must"):
        TextRequest("", "x", n=0)


def test_base64_in_a1111_answer_roundtrips_exactly(a1111):
    a1111.return_grid = False
    result = A1111Backend({"base_url": a1111.url}).generate_images(ImageRequest("x", seed=5))
    assert base64.b64encode(result.images[0]) == base64.b64encode(a1111.served[0])
