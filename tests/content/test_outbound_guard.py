"""Generation backends cannot make the server call what only the server can reach. A backend URL
(owner-entered in admin, or from the environment) pointing at this machine, the private network
or the metadata service is refused when entered and again at every call; image URLs a backend
hands out are guarded the same way; the backend's key goes to its own host only; and health
details and job errors carry the refusal, never a word from the target."""

from __future__ import annotations

import pytest
from django.urls import reverse

from content import studio
from content.generation.backends import A1111Backend, BackendError, ComfyUIBackend, ImageRequest, OpenAIBackend
from content.generation.backends import TextRequest as TextReq
from content.models import GenerationBackend
from tests.conftest import LISTENER_BODY, Listener, recording_server
from tests.content.fakes_generation import FakeOpenAI
from tests.scheduling.fakes.base import Reply, serve

HINT = "set OUTBOUND_ALLOWED_NETWORKS to allow internal targets"
KEY = "sk-guard-test-0123456789SECRET"
KINDS = {"comfyui": ComfyUIBackend, "a1111": A1111Backend, "openai": OpenAIBackend}


def internal_bases(listener: Listener) -> list[str]:
    port = listener.port
    return [f"http://127.0.0.1:{port}", f"http://[::1]:{listener.port6}", f"http://localhost:{port}",
            f"http://gpu.example.test:{port}", f"http://[::ffff:127.0.0.1]:{port}", f"http://2130706433:{port}",
            f"http://0x7f.1:{port}", f"http://0.0.0.0:{port}", "http://10.0.0.1:8188", "http://169.254.169.254",
            "http://[fd00::1]:8188", "http://[fe80::1]:8188"]


@pytest.fixture
def guarded(settings, outbound_hosts):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    outbound_hosts["gpu.example.test"] = ["127.0.0.1"]
    return outbound_hosts


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_backends_on_internal_targets_call_nothing(kind, listener, guarded, connection_attempts):
    for base in internal_bases(listener):
        with KINDS[kind]({"base_url": base, "api_key": KEY, "model": "m", "timeout": 2}) as backend:
            health = backend.health()
            assert not health.ok and "refused: " in health.detail and HINT in health.detail, health.detail
            with pytest.raises(BackendError, match="refused: ") as refused:
                if kind == "openai":
                    backend.complete(TextReq("", "write a caption"))
                else:
                    backend.generate_images(ImageRequest("a lighthouse"))
            assert KEY not in str(refused.value) and LISTENER_BODY.decode() not in str(refused.value)
    assert not listener.reached
    assert connection_attempts == []


@pytest.mark.django_db
def test_stored_health_details_and_job_errors_are_the_refusal(people, listener, guarded):
    backend = studio.save_backend(GenerationBackend(name="Scan", kind="openai", purpose="text",
                                                    base_url=f"http://127.0.0.1:{listener.port}", model="m",
                                                    enabled=False), api_key=KEY)
    health = studio.check_health(backend)
    backend.refresh_from_db()
    assert not health.ok and not backend.last_health_ok
    assert "refused: 127.0.0.1 is a loopback address" in backend.last_health_detail
    assert HINT in backend.last_health_detail and LISTENER_BODY.decode() not in backend.last_health_detail
    assert not listener.reached


@pytest.fixture
def openai_outside(settings, outbound_hosts):
    """An OpenAI-compatible server on an allowed "public" host (a name mapped to 127.0.0.2)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32", "127.0.0.3/32"]
    outbound_hosts.update({"api.example.test": ["127.0.0.2"], "blobs.example.test": ["127.0.0.3"]})
    fake = FakeOpenAI(api_key=KEY)
    with serve(fake, host="127.0.0.2") as running:
        running.url = running.url.replace("127.0.0.2", "api.example.test")
        yield running


def image_urls(*urls: str) -> Reply:
    return Reply(200, {"created": 1, "data": [{"url": url} for url in urls]})


def test_image_urls_a_backend_hands_out_are_guarded(openai_outside, listener, redirector, outbound_hosts):
    redirector.location = f"http://127.0.0.1:{listener.port}/latest/meta-data/"
    outbound_hosts["cdn.example.test"] = ["127.0.0.2"]
    for url in [f"{listener.url}/img.png", f"http://localhost:{listener.port}/img.png", f"{listener.url6}/img.png",
                "http://169.254.169.254/latest/meta-data/iam/", f"http://cdn.example.test:{redirector.port}/img.png"]:
        openai_outside.fail_next("POST", r"/v1/images/generations", image_urls(url))
        with OpenAIBackend({"base_url": openai_outside.url, "api_key": KEY, "model": "dall-e-3",
                            "timeout": 3}) as backend, pytest.raises(BackendError, match="refused: "):
            backend.generate_images(ImageRequest("x"))
    assert len(redirector.requests) == 1  # the allowed hop; its inward redirect was refused
    assert not listener.reached


def test_the_key_goes_to_the_backends_own_host_only(openai_outside):
    other = Listener()
    with recording_server(other, "127.0.0.3") as server:
        elsewhere = f"http://blobs.example.test:{server.server_address[1]}"
        # An image handed out on another host, and one on the backend's host that redirects there.
        openai_outside.fail_next("POST", r"/v1/images/generations",
                                 image_urls(f"{elsewhere}/a.png", f"{openai_outside.url}/files/moved.png"))
        openai_outside.fail_next("GET", r"/files/moved\.png", Reply(302, "", headers={"Location": f"{elsewhere}/b"}))
        # The backend itself redirecting a call elsewhere: not followed, so the key stays.
        openai_outside.fail_next("POST", r"/v1/chat/completions",
                                 Reply(307, "", headers={"Location": f"{elsewhere}/v1/chat/completions"}))
        with OpenAIBackend({"base_url": openai_outside.url, "api_key": KEY, "model": "gpt-4o-mini",
                            "timeout": 3}) as backend:
            result = backend.generate_images(ImageRequest("x"))
            with pytest.raises(BackendError):
                backend.complete(TextReq("", "x"))
    assert result.images == [LISTENER_BODY, LISTENER_BODY]
    assert [r["path"] for r in other.requests] == ["/a.png", "/b"]
    for received in other.requests:
        assert "authorization" not in received["headers"] and KEY not in str(received["headers"])
    posts = openai_outside.calls("POST", r"/v1/.*")
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in posts)
    assert openai_outside.calls("GET", r"/files/moved\.png")[0].headers.get("authorization") is None


@pytest.mark.django_db
def test_the_admin_refuses_internal_backend_urls_when_entered(client, people, listener, guarded):
    client.force_login(people["owner"])
    form = {"name": "Own GPU", "kind": "comfyui", "purpose": "images", "model": "sdxl", "enabled": "on",
            "timeout_seconds": 60, "max_concurrency": 1, "cost_per_image_minor": 0, "cost_per_mtok_in_minor": 0,
            "cost_per_mtok_out_minor": 0, "cost_per_hour_minor": 0, "currency": "EUR", "options": "{}"}
    for base in internal_bases(listener):
        response = client.post(reverse("admin:content_generationbackend_add"), {**form, "base_url": base})
        assert response.status_code == 200, base
        errors = response.context["adminform"].form.errors
        assert "This URL is refused:" in " ".join(errors.get("base_url", [])) and HINT in str(errors), (base, errors)
    assert not GenerationBackend.objects.exists()
    guarded.clear()
    response = client.post(reverse("admin:content_generationbackend_add"),
                           {**form, "base_url": "https://gpu.example.com:8188"})
    assert response.status_code == 302
    assert not listener.reached


@pytest.mark.django_db
def test_a_local_backend_works_once_its_network_is_allowed(people, settings):
    """The demo's "Local ComfyUI" at 127.0.0.1:8188: refused until the operator allows loopback."""
    from tests.content.fakes_generation import FakeComfyUI

    with serve(FakeComfyUI()) as comfy:
        backend = studio.save_backend(GenerationBackend(name="Local ComfyUI", kind="comfyui", purpose="images",
                                                        base_url=comfy.url, enabled=False))
        settings.OUTBOUND_ALLOWED_NETWORKS = []
        refused = studio.check_health(backend)
        assert not refused.ok and "127.0.0.1 is a loopback address" in refused.detail
        assert comfy.requests == []
        settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        assert studio.check_health(backend).ok
