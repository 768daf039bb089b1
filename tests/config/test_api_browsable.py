"""The browsable API (text/html) on every operation of the router, as a signed-in owner and manager.

A person who opens an API URL in a browser gets the browsable page; drawing it asks each view for its
forms (and the object permissions behind them) on whatever the action answered. No such page may be a
server error, whatever the operation answers: rows, verdicts, refusals or 405s.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

HTML = {"HTTP_ACCEPT": "text/html"}


def _row_id(path: str) -> int | None:
    try:
        match = resolve(path.replace("{id}", "1"))
    except Resolver404:
        return None
    queryset = getattr(getattr(match.func, "cls", None), "queryset", None)
    return None if queryset is None else queryset.model._default_manager.order_by("pk").values_list(
        "pk", flat=True).first()


def _operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, methods in schema["paths"].items():
        verbs = {m.upper() for m in methods if m in {"get", "post", "put", "patch", "delete"}} | {"GET"}
        found += [(path, verb) for verb in sorted(verbs)]
    return found


@pytest.mark.parametrize("who", ["owner", "manager"])
def test_every_operation_renders_in_the_browsable_api(who, api_world):
    user = api_world.owner if who == "owner" else type(api_world.owner).objects.get(username="fuzz-manager")
    client = Client()
    client.force_login(user)
    operations = _operations()
    assert len(operations) > 40
    failures = []
    for path, verb in operations:
        if "{" in path:
            row = _row_id(path)
            url = path.replace("{id}", str(row or 1))
            if "{" in url:
                continue
        else:
            url = path
        savepoint = transaction.savepoint()
        try:
            call = getattr(client, verb.lower())
            response = call(url, **HTML) if verb in ("GET", "DELETE") else \
                call(url, {}, content_type="application/json", **HTML)
        finally:
            transaction.savepoint_rollback(savepoint)
            connection.needs_rollback = False
        if response.status_code >= 500:
            failures.append(f"{verb} {url}: {response.status_code}")
        elif response.status_code != 204 and not response.get("Content-Type", "").startswith("text/html"):
            failures.append(f"{verb} {url}: {response.status_code} {response.get('Content-Type')}")
    assert not failures, "\n".join(failures)
