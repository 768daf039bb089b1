"""Fixtures shared by the AI studio tests: a development signing CA, and fake backends on loopback."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from content import studio
from content.models import GenerationBackend
from content.provenance.dev_ca import CHAIN_FILENAME, KEY_FILENAME
from tests.content.fakes_generation import FakeComfyUI, FakeOpenAI
from tests.scheduling.fakes.base import serve

STUDIO_API_KEY = "sk-studio-test-SECRET-4242"


@pytest.fixture(scope="session")
def studio_ca(tmp_path_factory):
    out = tmp_path_factory.mktemp("studio-ca")
    call_command("create_dev_signing_ca", "--out", str(out), stdout=io.StringIO())
    return out


@pytest.fixture
def signing(settings, studio_ca):
    """C2PA signing with the development chain; no trust anchors, so manifests read valid, not trusted."""
    settings.C2PA_SIGNING_CERT_CHAIN = str(studio_ca / CHAIN_FILENAME)
    settings.C2PA_SIGNING_KEY = str(studio_ca / KEY_FILENAME)
    settings.C2PA_TRUST_ANCHORS = ""
    return settings


@pytest.fixture
def comfy(allow_loopback):
    """A fake ComfyUI on loopback; using it opts the test into OUTBOUND_ALLOWED_NETWORKS for loopback."""
    with serve(FakeComfyUI()) as fake:
        fake.polls_before_done = 1
        yield fake


@pytest.fixture
def openai(allow_loopback):
    """A fake OpenAI-compatible server on loopback (opts into loopback like `comfy`)."""
    with serve(FakeOpenAI(api_key=STUDIO_API_KEY)) as fake:
        yield fake


def comfy_row(fake, **fields) -> GenerationBackend:
    defaults = {"name": "Studio GPU", "kind": "comfyui", "purpose": "images", "base_url": fake.url,
                "model": "persona_v2.safetensors", "options": {"poll_interval": 0.02}, "timeout_seconds": 10,
                "is_default": True, "cost_per_image_minor": 3}
    return studio.save_backend(GenerationBackend(**{**defaults, **fields}))


def text_row(fake, **fields) -> GenerationBackend:
    defaults = {"name": "Writer", "kind": "openai", "purpose": "text", "base_url": fake.url, "model": "gpt-4o-mini",
                "timeout_seconds": 10, "is_default": True, "cost_per_mtok_in_minor": 15,
                "cost_per_mtok_out_minor": 60}
    return studio.save_backend(GenerationBackend(**{**defaults, **fields}), api_key=STUDIO_API_KEY)


@pytest.fixture
def personas(people):
    """Creators A and B as AI personas with no real person behind them, so images of them need no
    likeness consent (tests of that rule make their own human creators)."""
    from accounts.models import Creator

    Creator.objects.filter(pk__in=[people["a"].pk, people["b"].pk]).update(kind=Creator.Kind.AI_PERSONA)
    for key in ("a", "b"):
        people[key].refresh_from_db()
    return people
