"""Request ids, JSON log context and Prometheus metrics.

Every log line carries the request id or the Celery task id so one publication can be traced
from the admin click to the platform call. Nothing personal is logged: ids only.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
task_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="")

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

HTTP_REQUESTS = Counter(
    "atelier_http_requests_total", "HTTP requests served", ["method", "view", "status"]
)
HTTP_LATENCY = Histogram(
    "atelier_http_request_duration_seconds", "Server time per request", ["method", "view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
)
TASKS = Counter("atelier_celery_tasks_total", "Celery tasks finished", ["task", "state"])

# Tasks that expired in the queue before a worker took them (a beat entry's `expires`). Workers and
# the web are separate processes, so the count lives in the shared cache (Redis when configured)
# and is read at scrape time.
EXPIRED_KEY = "atelier:metrics:tasks_expired"
log = logging.getLogger(__name__)


def record_expired_task(task_name: str) -> None:
    """Count one task that expired unexecuted. Never raises: a metric must not break a worker."""
    try:
        names = cache.get(EXPIRED_KEY + ":names") or []
        if task_name not in names:
            cache.set(EXPIRED_KEY + ":names", sorted({*names, task_name}), timeout=None)
        key = f"{EXPIRED_KEY}:{task_name}"
        if not cache.add(key, 1, timeout=None):
            cache.incr(key)
    except Exception:
        log.warning("Could not count an expired %s task", task_name, exc_info=True)


class ExpiredTasksCollector(Collector):
    def collect(self) -> list[CounterMetricFamily]:
        family = CounterMetricFamily("atelier_celery_tasks_expired", "Tasks that expired before a worker ran them",
                                     labels=["task"])
        try:
            names = cache.get(EXPIRED_KEY + ":names") or []
            counts = cache.get_many([f"{EXPIRED_KEY}:{n}" for n in names])
        except Exception:
            log.warning("Could not read the expired-task counts", exc_info=True)
            names, counts = [], {}
        for name in names:
            family.add_metric([name], float(counts.get(f"{EXPIRED_KEY}:{name}", 0)))
        return [family]


REGISTRY.register(ExpiredTasksCollector())


class LogContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.task_id = task_id_var.get()
        return True


class RequestIdMiddleware:
    """Take a sane X-Request-ID from the proxy or make one; echo it on the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        return response


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unmatched"
        HTTP_LATENCY.labels(request.method, view).observe(time.perf_counter() - start)
        HTTP_REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition, for whoever holds METRICS_TOKEN as a bearer token.

    Request counts per view and status tell an outsider which pages exist and how busy they are,
    so without a token the endpoint is off in production (a start-up warning says so, see
    `config.checks`); only local work (DEBUG) serves it openly.
    """
    token = settings.METRICS_TOKEN
    if not token:
        if not settings.DEBUG:
            return HttpResponse("Metrics are disabled: set METRICS_TOKEN and scrape with a bearer token.\n",
                                status=403, content_type="text/plain")
    else:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not constant_time_compare(presented, token):
            response = HttpResponse(status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
