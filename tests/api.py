"""Calling the API as a test principal: a person signed in on the test client, or an API key."""

from __future__ import annotations

from typing import Any


def auth(client: Any, principals: Any, who: str) -> dict[str, str]:
    """`who` names a person (signed in on `client`) or, starting with "key", a raw API key in
    `principals`; the headers a request then carries."""
    if who.startswith("key"):
        return {"HTTP_AUTHORIZATION": f"Bearer {principals[who]}"}
    client.force_login(principals[who])
    return {}


def post_json(client: Any, url: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
    return client.post(url, data or {}, content_type="application/json", **(headers or {}))


def patch_json(client: Any, url: str, data: Any, headers: dict[str, str] | None = None) -> Any:
    return client.patch(url, data, content_type="application/json", **(headers or {}))
