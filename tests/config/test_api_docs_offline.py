"""/api/docs/ works without internet: every file Swagger UI needs comes from the app's own static files
(drf-spectacular-sidecar), and the app serves each of them."""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def test_docs_reference_only_local_static_files_and_the_app_serves_them(settings, people):
    settings.WHITENOISE_USE_FINDERS = True  # serve from the apps' static dirs, as `collectstatic` would
    client = Client()  # a fresh handler, so WhiteNoise reads the setting above
    client.force_login(people["owner"])
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    body = docs.content.decode()
    urls = URL.findall(body)
    assets = [u for u in urls if not u.startswith("/api/docs/")]
    assert any(u.endswith("swagger-ui-bundle.js") for u in assets), urls
    assert any(u.endswith("swagger-ui.css") for u in assets), urls
    for url in assets:
        assert url.startswith(django_settings.STATIC_URL), f"{url} is not one of the app's static files"
        assert "//" not in url, url
        assert finders.find(url.removeprefix(django_settings.STATIC_URL)), f"{url} is missing"
        served = client.get(url)
        assert served.status_code == 200, url
        assert b"".join(served.streaming_content if served.streaming else [served.content])
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert not re.search(rb"https?://", script.content), script.content[:500]
