"""A metric snapshot's creator is its publication's creator, whatever path wrote it.

Tenancy filters snapshots on their own `creator` column (the admin list of a creator's millions
of snapshots is counted and paged on an index), so a mismatch would show one creator's numbers
to another creator's staff.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts import tenancy
from analytics import ingest
from analytics.models import MetricSnapshot
from tests.analytics import factories as make
from tests.analytics.factories import PublishedPublicationFactory

pytestmark = pytest.mark.django_db
AT = datetime(2026, 11, 1, 12, tzinfo=UTC)


def mismatched() -> list[int]:
    return list(MetricSnapshot.objects.exclude(creator_id=F("publication__creator_id")).values_list("pk", flat=True))


def test_the_metrics_sync_writes_the_publications_creator(metrics_account):
    pubs = [PublishedPublicationFactory(account=metrics_account) for _ in range(2)]
    assert ingest.sync_metrics(now=timezone.now())["snapshots"] == 2
    assert {s.creator_id for s in MetricSnapshot.objects.filter(publication__in=pubs)} == {metrics_account.creator_id}
    assert not mismatched()


def test_rows_saved_one_by_one_or_in_bulk_follow_their_publication(people):
    pub = make.publication(make.account(people["a"]), AT)
    one = MetricSnapshot.objects.create(publication=pub, taken_at=AT)
    by_id = MetricSnapshot(publication_id=pub.pk, taken_at=AT.replace(hour=13))
    MetricSnapshot.objects.bulk_create([by_id, MetricSnapshot(publication=pub, taken_at=AT.replace(hour=14))])
    assert one.creator_id == by_id.creator_id == people["a"].pk and not mismatched()


@pytest.mark.postgres
def test_moving_a_post_to_another_creator_moves_its_snapshots(people):
    pub = make.publication(make.account(people["a"]), AT)
    MetricSnapshot.objects.create(publication=pub, taken_at=AT)
    post = pub.post
    post.creator = people["b"]
    post.save(update_fields=["creator"])
    assert MetricSnapshot.objects.get(publication=pub).creator_id == people["b"].pk and not mismatched()


@pytest.mark.postgres
def test_the_database_refuses_a_snapshot_of_another_creator(people):
    snap = MetricSnapshot.objects.create(publication=make.publication(make.account(people["a"]), AT), taken_at=AT)
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        MetricSnapshot.objects.filter(pk=snap.pk).update(creator=people["b"])
    assert not mismatched()


def test_tenancy_reads_the_snapshots_own_creator(people):
    mine = MetricSnapshot.objects.create(publication=make.publication(make.account(people["a"]), AT), taken_at=AT)
    theirs = MetricSnapshot.objects.create(publication=make.publication(make.account(people["b"]), AT), taken_at=AT)
    seen = tenancy.restrict(MetricSnapshot.objects.all(), people["alice"])
    assert list(seen) == [mine] and "scheduling_publication" not in str(seen.query)
    assert list(tenancy.restrict(MetricSnapshot.objects.all(), people["charlie"])) == [theirs]
