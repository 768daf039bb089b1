"""Fixed periodic jobs: the registry apps add theirs to, mirrored into django-celery-beat.

The calendar itself lives in rows (due times), never in one beat entry per post. Each entry here
is a handful of fixed jobs; `expires` sits just under the period so a backlog never piles up.
Each app registers its entries from its AppConfig.ready(); entries are synced on migrate and when
beat starts; ones removed from code are disabled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

PREFIX = "atelier: "


@dataclass(frozen=True)
class BeatEntry:
    name: str
    task: str
    every_seconds: int | None = None
    crontab: dict[str, str] = field(default_factory=dict)  # minute/hour/day_of_week/... in UTC
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def expires_seconds(self) -> int:
        period = self.every_seconds or 86400
        return max(1, int(period * 0.9))


# Celery's own result cleanup belongs to no app; every other entry is registered by its app.
BEAT_ENTRIES: list[BeatEntry] = [
    BeatEntry("purge task results", "celery.backend_cleanup", crontab={"minute": "27", "hour": "4"}),
]


def register(*entries: BeatEntry) -> None:
    """Apps add their fixed jobs here from their AppConfig.ready(); a name already known is kept."""
    known = {e.name for e in BEAT_ENTRIES}
    BEAT_ENTRIES.extend(e for e in entries if e.name not in known)


def sync_beat_schedule() -> int:
    """Upsert every entry into django-celery-beat; disable stale ones. Returns entries synced."""
    with transaction.atomic():
        names = []
        for entry in BEAT_ENTRIES:
            name = PREFIX + entry.name
            names.append(name)
            defaults = {
                "task": entry.task,
                "kwargs": json.dumps(entry.kwargs),
                "enabled": True,
                "expire_seconds": entry.expires_seconds,
                "description": "Declared in code (core/beat.py); edits here are overwritten.",
            }
            if entry.every_seconds:
                schedule, _ = IntervalSchedule.objects.get_or_create(
                    every=entry.every_seconds, period=IntervalSchedule.SECONDS
                )
                defaults.update(interval=schedule, crontab=None)
            else:
                cron = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*",
                        "month_of_year": "*", **entry.crontab}
                schedule, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **cron)
                defaults.update(crontab=schedule, interval=None)
            PeriodicTask.objects.update_or_create(name=name, defaults=defaults)
        PeriodicTask.objects.filter(name__startswith=PREFIX).exclude(name__in=names).update(enabled=False)
        PeriodicTasks.update_changed()
    return len(names)
