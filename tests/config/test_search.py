"""Global search: each role finds only its creators' records, only of models it may view, and no input 5xxs."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import RequestFactory

from config import search
from content.models import Tag
from scheduling.models import Post
from tests.analytics.factories import fan
from tests.compliance.factories import PerformerFactory
from tests.content.factories import AssetFactory
from tests.scheduling.factories import PlatformAccountFactory

PASSWORD = "correct-horse-battery"


@pytest.fixture
def records(team, media_dir) -> dict[str, Any]:
    a, b = team["a"], team["b"]
    PerformerFactory(legal_name="Jeanne Exemple", creators=[a], other_names=[("Luna Star", "stage")])
    PerformerFactory(legal_name="Marie Secret", creators=[b], other_names=[("Nova Night", "stage")])
    golden_a = AssetFactory(creator=a, title="Golden hour")
    golden_a.tags.add(Tag.objects.create(name="beachside"))
    AssetFactory(creator=b, title="Golden mountain")
    Post.objects.create(creator=a, caption="Sunset swim tonight, 100% new")
    Post.objects.create(creator=b, caption="Sunset rooftop")
    fan(a, handle="whale_wally")
    fan(b, handle="whale_bruno")
    PlatformAccountFactory(creator=a, platform="fanvue", handle="alpha_fanvue")
    PlatformAccountFactory(creator=b, platform="fanvue", handle="beta_fanvue")
    return team


def found(user: Any, term: str) -> dict[str, list[str]]:
    request = RequestFactory().get("/admin/search/", {"q": term})
    request.user = user
    return {g.key: [h.title for h in g.hits] for g in search.search(admin.site, request, term)}


# Which groups each role of creator A reaches (accounts/roles.py), for a term every group matches in A.
ROLE_GROUPS = {
    "alice": {"creators", "performers", "assets", "posts", "fans", "accounts"},  # manager
    "bob": {"creators", "performers", "assets", "posts", "accounts"},  # editor: no fans
    "chloe": {"creators", "assets", "fans"},  # chatter
    "oscar_a": {"creators", "performers", "assets", "posts", "accounts"},  # compliance officer
    "ana": {"creators", "assets", "posts", "fans", "accounts"},  # analyst: no performers
}


def _every_group(user: Any) -> set[str]:
    keys: set[str] = set()
    for term in ("Alpha", "Luna", "Golden", "Sunset", "whale", "fanvue"):
        keys |= set(found(user, term))
    return keys


@pytest.mark.django_db
@pytest.mark.parametrize("username", sorted(ROLE_GROUPS))
def test_each_role_searches_only_the_models_it_may_view(records, username):
    assert _every_group(records[username]) == ROLE_GROUPS[username]


@pytest.mark.django_db
def test_manager_of_a_never_finds_b(records):
    alice = records["alice"]
    assert found(alice, "Sunset") == {"posts": ["Sunset swim tonight, 100% new"]}
    assert found(alice, "whale") == {"fans": ["whale_wally"]}
    assert found(alice, "Golden") == {"assets": ["Golden hour"]}
    assert found(alice, "Nova") == {}
    assert found(alice, "Beta") == {}
    assert found(alice, "beta_fanvue") == {}


@pytest.mark.django_db
def test_manager_of_b_never_finds_a(records):
    charlie = records["charlie"]
    assert found(charlie, "Sunset") == {"posts": ["Sunset rooftop"]}
    assert found(charlie, "whale") == {"fans": ["whale_bruno"]}
    assert found(charlie, "Luna") == {}
    assert found(charlie, "Alpha") == {}


@pytest.mark.django_db
def test_owner_finds_both(records):
    results = found(records["owner"], "Sunset")
    assert sorted(results["posts"]) == ["Sunset rooftop", "Sunset swim tonight, 100% new"]
    assert found(records["owner"], "Jeanne")["performers"] == ["Jeanne Exemple"]


@pytest.mark.django_db
def test_legal_names_only_for_those_who_may_open_records(records):
    # The compliance officer finds the performer by legal name and sees it.
    assert found(records["oscar_a"], "Jeanne") == {"performers": ["Jeanne Exemple"]}
    assert found(records["oscar_a"], "Luna")["performers"] == ["Jeanne Exemple"]
    # The manager may see the performer exists, by stage name only: the legal name neither matches nor shows.
    assert found(records["alice"], "Jeanne") == {}
    assert found(records["alice"], "Exemple") == {}
    assert found(records["alice"], "Luna")["performers"] == ["Luna Star"]
    hits = [h for g in search.search(admin.site, _request(records["alice"]), "Luna") for h in g.hits]
    assert not any("Jeanne" in f"{h.title} {h.detail}" for h in hits)


def _request(user: Any) -> Any:
    request = RequestFactory().get("/admin/search/")
    request.user = user
    return request


@pytest.mark.django_db
def test_asset_found_by_tag(records):
    assert found(records["alice"], "beachside") == {"assets": ["Golden hour"]}


@pytest.mark.django_db
def test_percent_and_underscore_are_literal(records):
    alice = records["alice"]
    assert found(alice, "100%") == {"posts": ["Sunset swim tonight, 100% new"]}
    assert found(alice, "%%") == {}
    assert found(alice, "whale_w") == {"fans": ["whale_wally"]}
    assert found(alice, "l_h") == {}  # "_" is the character itself: "Alpha" does not match
    assert list(found(alice, "a_f")) == ["accounts"]


@pytest.mark.django_db
def test_groups_are_capped(team):
    for n in range(search.PER_GROUP + 3):
        Post.objects.create(creator=team["a"], caption=f"Capped caption {n}")
    request = _request(team["alice"])
    (group,) = search.search(admin.site, request, "capped")
    assert len(group.hits) == search.PER_GROUP and group.more
    assert "q=capped" in group.list_link


ODD = ["", " ", "a", "x" * 1000, "ünïcødé 🎉", "%", "_", "%_%", "\\", "' OR 1=1 --", "\"; DROP TABLE x; --",
       "\x00", "abc\x00def", "<script>alert(1)</script>", "Sunset\nswim", "😀" * 300]


@pytest.mark.django_db
@pytest.mark.parametrize("term", ODD)
@pytest.mark.parametrize("param", ["q", "s"])
def test_odd_input_never_5xx(records, client, term, param):
    client.force_login(records["alice"])
    for extra in ({}, {"extended": "1"}, {"page": "x"}):
        response = client.get("/admin/search/", {param: term, **extra})
        assert response.status_code == 200, (term, extra)
    assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.django_db
def test_long_input_is_cut_and_said(records, client):
    client.force_login(records["alice"])
    response = client.get("/admin/search/", {"q": "Sunset" + "x" * 1000})
    assert response.status_code == 200
    assert b'data-testid="search-shortened"' in response.content


@pytest.mark.django_db
def test_full_page_lists_groups_with_links(records, client):
    client.force_login(records["alice"])
    body = client.get("/admin/search/", {"q": "Sunset"}).content.decode()
    post = Post.objects.get(caption__startswith="Sunset swim")
    assert f"/admin/scheduling/post/{post.pk}/change/" in body
    assert "Sunset rooftop" not in body
    assert 'data-testid="search-group-posts"' in body


@pytest.mark.django_db
def test_sidebar_fragment_lists_menu_entries_and_records(records, client):
    client.force_login(records["alice"])
    body = client.get("/admin/search/", {"s": "post"}).content.decode()
    assert "/admin/scheduling/post/" in body  # the menu entry
    body = client.get("/admin/search/", {"s": "Sunset"}).content.decode()
    post = Post.objects.get(caption__startswith="Sunset swim")
    assert f"/admin/scheduling/post/{post.pk}/change/" in body
    assert "Sunset rooftop" not in body
    assert "/admin/search/?q=Sunset" in body  # the way to every result
    command = client.get("/admin/search/", {"s": "Sunset", "extended": "1"}).content.decode()
    assert f"/admin/scheduling/post/{post.pk}/change/" in command


@pytest.mark.django_db
def test_search_needs_a_staff_login(client):
    response = client.get("/admin/search/", {"q": "Sunset"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_clean_term():
    assert search.clean_term(None) == ""
    assert search.clean_term("  a\x00b \n c ") == "a b c"
    assert len(search.clean_term("x" * 1000)) == search.MAX_TERM


@pytest.mark.django_db
def test_queries_do_not_grow_with_hits(team, django_assert_max_num_queries):
    a = team["a"]
    PerformerFactory(legal_name="Query Person", creators=[a], other_names=[("Query Star", "stage")])
    Post.objects.create(creator=a, caption="Query one")
    request = _request(team["alice"])
    search.search(admin.site, request, "query")  # the person's memberships and permissions, read once

    def count() -> int:
        with django_assert_max_num_queries(50) as captured:
            search.search(admin.site, request, "query")
        return len(captured)

    few = count()
    for n in range(8):
        Post.objects.create(creator=a, caption=f"Query {n}")
        PerformerFactory(legal_name=f"Query Person {n}", creators=[a], other_names=[(f"Query Star {n}", "alias")])
    assert count() == few <= 10
