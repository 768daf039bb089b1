"""The Content-Security-Policy on every response, and the guards that keep our templates inside it.
(tests/browser/test_csp_browser.py walks the admin in Chromium under it.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template import Origin, engines
from django.urls import reverse

from core import template_patches
from tests.config.test_settings import ROOT, run_manage
from tests.content.factories import AssetFactory


def directives(header: str) -> dict[str, list[str]]:
    parts = [p.strip().split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_every_page_carries_a_strict_policy(client, people, settings, debug):
    settings.DEBUG = debug
    client.force_login(people["alice"])
    for url in ("/admin/login/", "/admin/", "/admin/content/asset/", "/api/v1/"):
        policy = directives(client.get(url)["Content-Security-Policy"])
        assert policy["script-src"][0] == "'self'", url
        assert not {"'unsafe-eval'", "'unsafe-inline'", "*", "data:", "https:"} & set(policy["script-src"]), url
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'self'"]
        assert policy["img-src"][:2] == ["'self'", "data:"]


@pytest.mark.django_db
def test_our_inline_scripts_run_by_the_requests_nonce(client, people, media_dir):
    asset = AssetFactory(creator=people["a"])
    client.force_login(people["alice"])
    response = client.get(reverse("admin:content_asset_change", args=[asset.pk]))
    nonces = set(re.findall(r'<script nonce="([^"]+)"', response.content.decode()))
    assert len(nonces) == 1
    assert f"'nonce-{nonces.pop()}'" in directives(response["Content-Security-Policy"])["script-src"]


def test_media_origin_joins_img_src_when_s3_is_configured(tmp_path):
    code = ("from django.conf import settings; d = settings.CONTENT_SECURITY_POLICY['DIRECTIVES']; "
            "print(' '.join(d['img-src'])); print(' '.join(d['script-src'][:1]))")
    env = {"DEBUG": "1", "ATELIER_VAR_DIR": str(tmp_path), "AWS_STORAGE_BUCKET_NAME": "atelier-media",
           "AWS_S3_ENDPOINT_URL": "https://minio.example.com:9000"}
    result = run_manage("shell", "--no-imports", "-c", code, env=env)
    img_src, script_src = result.stdout.splitlines()
    assert img_src.split() == ["'self'", "data:", "https://minio.example.com:9000"]
    assert script_src == "'self'"
    aws = run_manage("shell", "--no-imports", "-c", code, env={**env, "AWS_S3_ENDPOINT_URL": ""})
    assert "https://atelier-media.s3.us-east-1.amazonaws.com" in aws.stdout.splitlines()[0]


# --- Guards ----------------------------------------------------------------------------------------

INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src|nonce)=)[^>]*>", re.IGNORECASE)


def test_templates_have_no_inline_handlers_or_unnonced_scripts():
    """Inline on…= handlers cannot run under the policy, and an inline <script> needs the nonce."""
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for pattern in (INLINE_HANDLER, INLINE_SCRIPT, re.compile(r"javascript:", re.IGNORECASE)):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0).strip()}" for m in pattern.finditer(text)]
    assert offenders == []


def test_every_unfold_patch_applies_to_the_installed_templates():
    engine = engines["django"].engine
    loader = template_patches.Loader(engine)
    for name in sorted({p.template for p in template_patches.PATCHES}):
        origin = next(o for o in loader.get_template_sources(name) if "/unfold/templates/" in str(o.name)
                      and Path(o.name).exists())
        patched = loader.get_contents(origin)
        for patch in (p for p in template_patches.PATCHES if p.template == name):
            assert patch.new in patched and patch.old not in patched, (name, patch.why)
        engine.from_string(patched)  # still a valid template
    skeleton = engine.get_template("unfold/layouts/skeleton.html").source
    assert "unfold/js/alpine/alpine.js" not in skeleton and template_patches.ALPINE_CSP in skeleton
    assert (ROOT / "core" / "static" / template_patches.ALPINE_CSP).exists()


def test_a_patch_whose_text_is_gone_fails_loudly():
    origin = Origin(name="/venv/site-packages/unfold/templates/unfold/helpers/search.html",
                    template_name="unfold/helpers/search.html")
    with pytest.raises(ImproperlyConfigured, match="unfold changed"):
        template_patches.apply_patches(origin, "<input x-on:focus=\"somethingElse()\">")
    other = Origin(name="/project/templates/unfold/helpers/search.html", template_name="unfold/helpers/search.html")
    assert template_patches.apply_patches(other, "as is") == "as is"  # only unfold's own file is patched


def test_the_vendored_alpine_build_evaluates_nothing():
    source = (ROOT / "core" / "static" / template_patches.ALPINE_CSP).read_text()
    assert "new Function" not in source and "AsyncFunction" not in source and "eval(" not in source
