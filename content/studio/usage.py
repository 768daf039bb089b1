"""What the studio's backends consumed and cost, per creator and month."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from accounts.models import Creator
from content.models import (
    GenerationBackend,
    GenerationJob,
    GenerationUsage,
)

# --- usage ----------------------------------------------------------------------------------------------


def cost_of(backend: GenerationBackend | None, *, images: int = 0, tokens_in: int = 0, tokens_out: int = 0,
            seconds: float = 0.0) -> int:
    """Minor units, rounded up: a fraction of a cent charged is still charged."""
    if backend is None:
        return 0
    total = (images * backend.cost_per_image_minor + tokens_in * backend.cost_per_mtok_in_minor / 1_000_000
             + tokens_out * backend.cost_per_mtok_out_minor / 1_000_000
             + seconds * backend.cost_per_hour_minor / 3600)
    return math.ceil(round(total, 6))


def log_usage(creator: Creator, backend: GenerationBackend | None, *, kind: str, job: GenerationJob | None = None,
              images: int = 0, tokens_in: int = 0, tokens_out: int = 0, seconds: float = 0.0,
              cost_minor: int | None = None) -> GenerationUsage:
    if cost_minor is None:
        cost_minor = cost_of(backend, images=images, tokens_in=tokens_in, tokens_out=tokens_out, seconds=seconds)
    currency = backend.currency if backend else settings.ANALYTICS_CURRENCY
    usage = GenerationUsage.objects.create(
        creator=creator, backend=backend, backend_name=backend.name if backend else "templates", job=job, kind=kind,
        images=images, tokens_in=tokens_in, tokens_out=tokens_out, seconds=round(seconds or 0.0, 3),
        cost_minor=cost_minor, currency=currency)
    if job is not None:
        GenerationJob.objects.filter(pk=job.pk).update(tokens_in=tokens_in, tokens_out=tokens_out)
    return usage


def monthly_totals(queryset: Any) -> list[dict[str, Any]]:
    """Usage per month, creator, backend and currency (never summed across currencies)."""
    rows = (queryset.annotate(month=TruncMonth("at")).values("month", "creator__stage_name", "backend_name",
                                                              "currency")
            .annotate(calls=Count("id"), images=Sum("images"), tokens_in=Sum("tokens_in"),
                      tokens_out=Sum("tokens_out"), seconds=Sum("seconds"), cost_minor=Sum("cost_minor"))
            .order_by("-month", "creator__stage_name", "backend_name"))
    return list(rows)
