"""Property-based fuzzing of the whole published API schema against the real app on PostgreSQL.

Every operation in the schema drawn by schemathesis, positive and negative data, as three principals: an
owner key over every creator (read/write), a write key of one creator, and a read-only key. Checked: no
server error, every status code documented, the documented content type, and a body that matches the
documented schema. Path ids are drawn half the time from real rows (both creators'), so the operations
reach rows and the tenancy boundary, not only 404s.

Bounded for the normal suite by `API_FUZZ_EXAMPLES` (examples per operation, mode and key); the draws are
derandomised so a run is reproducible, and a larger number or `API_FUZZ_SEED` explores further.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection, transaction
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.slow]

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "6"))
SEED = os.environ.get("API_FUZZ_SEED")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wsgi_app():
    # Django closes the connection at the end of each request; here every request shares the test's
    # transaction, as Django's own test client arranges.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def model_for(path: str):
    try:
        match = resolve(path.replace("{id}", "1"))
    except Resolver404:
        return None
    view = getattr(match.func, "cls", None)
    queryset = getattr(view, "queryset", None)
    return None if queryset is None else queryset.model


def fuzz(operation, mode, ids, call) -> None:
    """Draw `EXAMPLES` cases of one operation in one mode and hand each to `call`."""

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=SEED is None,
                         suppress_health_check=list(HealthCheck), phases=["explicit", "generate"])
    def run(case, data):
        if ids and "id" in (case.path_parameters or {}) and data.draw(st.booleans()):
            case.path_parameters["id"] = data.draw(st.sampled_from(ids))
        call(case)

    if SEED is not None:
        run = seed(int(SEED))(run)
    run()


@pytest.mark.parametrize("principal", ["owner", "one_creator", "read_only"])
def test_every_operation_answers_within_its_schema(principal, wsgi_app, api_world):
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    headers = {"Authorization": f"Bearer {api_world.keys[principal]}"}
    failures: list[str] = []
    ran: Counter[str] = Counter()

    def call(case) -> None:
        ran[case.operation.label] += 1
        # Each request sees the seeded api_world as it was: its changes (or a broken transaction) roll back.
        savepoint = transaction.savepoint()
        try:
            response = case.call(app=wsgi_app, headers=headers)
        finally:
            transaction.savepoint_rollback(savepoint)
            connection.needs_rollback = False
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, BaseExceptionGroup) as exc:  # collected, then reported together
            failures.append(f"{case.operation.label} {response.status_code}: {str(exc)[:1500]}")

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        model = model_for(operation.path)
        ids = sorted(model._default_manager.values_list("pk", flat=True)[:50]) if model else []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, ids, call)
    print(f"{principal}: {len(operations)} operations, {sum(ran.values())} requests")
    if failures:
        pytest.fail(f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:60]), pytrace=False)
