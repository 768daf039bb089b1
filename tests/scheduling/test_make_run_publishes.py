"""It must show: a post scheduled for two platforms in the creator's timezone is published once on
each, at the right UTC instant, by the worker and beat that `make run` starts — with the Fanvue
and X connectors pointed at local servers that speak their wire format."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.make_run import make_run
from tests.scheduling.fakes.base import serve
from tests.scheduling.fakes.fanvue import FakeFanvue
from tests.scheduling.fakes.x import FakeX

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
import json, io
from datetime import UTC, date, timedelta
from zoneinfo import ZoneInfo
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from accounts.models import Creator, User
from compliance.models import Performer
from content.models import Asset
from scheduling import services
from scheduling.models import PlatformAccount, Publication

owner = User.objects.get(username="owner")
luna = Creator.objects.get(stage_name="Luna Vale")
buffer = io.BytesIO()
Image.new("RGB", (64, 48), (200, 120, 150)).save(buffer, "JPEG")
asset = Asset(creator=luna, kind="image", mime="image/jpeg", sha256="e" * 64, size_bytes=len(buffer.getvalue()),
              rating="suggestive", status=Asset.Status.APPROVED, production_date=date(2026, 2, 1), title="Demo")
asset.file.save("demo-two-platforms.jpg", ContentFile(buffer.getvalue()), save=True)
asset.performers.add(Performer.objects.get(legal_name="Jeanne Exemple"))
fanvue = services.save_account(PlatformAccount(state="connected", creator=luna, platform="fanvue",
                                               handle="luna_fake_fv"), actor=owner)
x = services.save_account(PlatformAccount(state="connected", creator=luna, platform="x", handle="luna_fake_x",
                                          external_id="42"), actor=owner)
expires = timezone.now() + timedelta(days=1)
services.store_credentials(fanvue, {"access_token": "fv-access-1", "refresh_token": "fv-refresh-1"}, expires_at=expires)
services.store_credentials(x, {"access_token": "x-access-1", "refresh_token": "x-refresh-1"}, expires_at=expires)
post = services.create_post(creator_id=luna.pk, caption="Golden hour set, out now", asset_ids=[asset.pk],
                            targets=[(fanvue, ""), (x, "Golden hour, link in bio")], actor=owner)
services.approve_post(post, actor=User.objects.get(username="mara"))  # four eyes: not the author
paris = ZoneInfo(luna.timezone)
soon = (timezone.now() + timedelta(seconds=50)).astimezone(paris)
local = soon.replace(second=0, microsecond=0) + timedelta(minutes=1)
at = services.local_datetime(luna.timezone, local.date(), local.time())
out = {}
for pub in Publication.objects.filter(post=post):
    outcome = services.schedule(pub, at=at, actor=owner)
    assert outcome.verdict.passed, outcome.verdict.reasons
    out[pub.account.platform] = pub.pk
print(json.dumps({"ids": out, "local": local.isoformat(), "utc": at.astimezone(UTC).isoformat()}))
"""

STATUS = """
import json
from scheduling.models import Publication
print(json.dumps([{"id": p.pk, "status": p.status, "scheduled_at": p.scheduled_at.isoformat(),
                   "published_at": p.published_at.isoformat() if p.published_at else None,
                   "external_id": p.external_id, "attempts": p.attempts, "error": p.last_error}
                  for p in Publication.objects.filter(pk__in=IDS)]))
"""


@pytest.mark.e2e
@pytest.mark.worker
@pytest.mark.timeout(420)
def test_post_for_two_platforms_published_once_each_by_make_run(tmp_path):
    with serve(FakeFanvue()) as fanvue, serve(FakeX()) as x:
        with make_run(tmp_path, leave_out=("SCHEDULING_CONNECTORS",), FANVUE_API_URL=fanvue.url,
                      FANVUE_WEB_URL=fanvue.url, FANVUE_MEDIA_POLL_SECONDS="1", X_API_URL=x.url,
                      X_WEB_URL=x.url) as run:
            manage = [sys.executable, "manage.py", "shell", "--no-imports", "-c"]
            menv = {**run.env, "DEBUG": "1"}
            run.wait_until_serving("/health/")
            made = subprocess.run([*manage, SETUP], cwd=ROOT, env=menv, capture_output=True, text=True, timeout=120)
            assert made.returncode == 0, made.stderr[-3000:]
            plan = json.loads(made.stdout.strip().splitlines()[-1])
            ids = list(plan["ids"].values())
            due = datetime.fromisoformat(plan["utc"])
            assert due.utcoffset().total_seconds() == 0
            rows: list[dict] = []
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                probe = subprocess.run([*manage, STATUS.replace("IDS", repr(ids))], cwd=ROOT, env=menv,
                                       capture_output=True, text=True, timeout=60)
                rows = json.loads(probe.stdout.strip().splitlines()[-1])
                if rows and all(r["status"] == "published" for r in rows):
                    break
                if any(r["status"] in ("failed", "blocked", "unknown", "missed") for r in rows):
                    break
                time.sleep(2)
        output = run.output()
        assert [r["status"] for r in rows] == ["published", "published"], (rows, output[-3000:])
        for row in rows:
            assert datetime.fromisoformat(row["scheduled_at"]) == due
            published = datetime.fromisoformat(row["published_at"])
            # Never early; late by at most one dispatcher period (30 s) plus the publish itself.
            assert due <= published <= due + timedelta(seconds=45)
            assert row["attempts"] == 1
        assert len(fanvue.state["posts"]) == 1
        assert len(x.state["tweets"]) == 1
        local = datetime.fromisoformat(plan["local"])
        assert local.utcoffset() == due.astimezone(local.tzinfo).utcoffset()
        print(f"due {plan['local']} (Europe/Paris) = {plan['utc']} UTC; published at "
              f"{', '.join(r['published_at'] for r in rows)}")

