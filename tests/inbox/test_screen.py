"""The chatter's screen at /admin/inbox/: who may open what (tenancy 404), sending once per form, refusals
on the page, the live endpoint's deltas and its query bound, the soft lock, round-robin and reassignment,
and the inbox's admin pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import AuditEvent, Membership, Role
from analytics.models import Fan, Subscription, Transaction
from config import navigation
from content.models import Asset
from inbox import screen, services
from inbox.models import AIDraft, Conversation, FanNote, Message, Script, Shift
from tests.content.factories import AssetFactory
from tests.factories import CreatorFactory, UserFactory
from tests.inbox.factories import fan_writes, incoming
from tests.inbox.screen_helpers import vault_asset
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db

SCREEN = "/admin/inbox/"


@pytest.fixture
def staffed(desk, media_dir):
    """The desk with its people's roles given through the service (their groups, so their permissions,
    follow), a second chatter on shift, and an outsider: the chatter of another creator."""
    for user, role in ((desk.chatter, Role.CHATTER), (desk.manager, Role.MANAGER)):
        Membership.objects.filter(user=user, creator=desk.creator).delete()
        accounts_services.add_membership(user=user, creator=desk.creator, role=role)
    other = CreatorFactory(stage_name="Nova")
    outsider = UserFactory(username="otto")
    accounts_services.add_membership(user=outsider, creator=other, role=Role.CHATTER)
    other_account = PlatformAccountFactory(creator=other, platform="fanvue", handle="nova")
    return {"desk": desk, "outsider": outsider, "other": other, "other_account": other_account}


def _send(client, conversation, key, **data):
    return client.post(reverse("admin:inbox_send", args=[conversation.pk]), {"key": key, "do": "send", **data})


def _live(client, **params):
    return client.get(reverse("admin:inbox_live"), params)


# --- Reach -------------------------------------------------------------------------------------------------


def test_a_chatter_sees_their_creators_conversations_and_nobody_elses(client, staffed):
    desk = staffed["desk"]
    mine = fan_writes(desk.fanvue, "hello Luna", fan_id="fan-luna").conversation
    theirs = fan_writes(staffed["other_account"], "hello Nova", fan_id="fan-nova").conversation
    client.force_login(desk.chatter)
    page = client.get(SCREEN).content.decode()
    assert "@fan-luna" in page and "@fan-nova" not in page

    client.force_login(staffed["outsider"])
    assert client.get(SCREEN, {"c": mine.pk}).status_code == 404
    assert _live(client, c=mine.pk).status_code == 404
    assert _send(client, mine, "a" * 32, text="hi").status_code == 404
    for name in ("inbox_lock", "inbox_draft", "inbox_assign", "inbox_status", "inbox_fan_note"):
        assert client.post(reverse(f"admin:{name}", args=[mine.pk])).status_code == 404, name
    assert not Message.objects.filter(conversation=mine, direction=Message.Direction.OUT).exists()
    assert client.get(SCREEN, {"c": theirs.pk}).status_code == 200


def test_staff_without_the_inbox_role_are_kept_out(client, staffed):
    desk = staffed["desk"]
    editor = UserFactory(username="eddie")
    accounts_services.add_membership(user=editor, creator=desk.creator, role=Role.EDITOR)
    client.force_login(editor)
    assert client.get(SCREEN).status_code == 403
    assert _live(client).status_code == 403


def test_a_reader_who_may_not_answer_gets_no_compose_and_a_403(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    officer = UserFactory(username="cora")
    accounts_services.add_membership(user=officer, creator=desk.creator, role=Role.COMPLIANCE)
    client.force_login(officer)
    page = client.get(SCREEN, {"c": conversation.pk})
    assert page.status_code == 200 and b'data-testid="inbox-compose"' not in page.content
    assert _send(client, conversation, "b" * 32, text="hi").status_code == 403


# --- The three panes ---------------------------------------------------------------------------------------


def test_the_thread_and_fan_panel_say_who_wrote_what_and_what_the_fan_spent(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "are you there?").conversation
    fan = conversation.fan
    Fan.objects.filter(pk=fan.pk).update(lifetime_spend_minor=12_345, tags=["vip", "tz:Europe/Berlin"])
    now = timezone.now()
    Subscription.objects.create(creator=desk.creator, fan=fan, platform="fanvue", started_at=now - timedelta(days=20),
                                ends_at=now + timedelta(days=10), price_minor=999, currency="USD", auto_renew=True)
    asset = vault_asset(desk.creator, title="Golden hour set")
    ppv = services.send(conversation, by=desk.chatter, text="Something for you", assets=[asset], price_minor=1200)
    bought = Transaction.objects.create(creator=desk.creator, platform="fanvue", fan=fan,
                                        kind=Transaction.Kind.PAID_MESSAGE, gross_minor=1200, fee_minor=240,
                                        net_minor=960, currency="USD", occurred_at=now, external_id="buy-1",
                                        source=Transaction.Source.WEBHOOK)
    Message.objects.filter(pk=ppv.pk).update(purchased_at=now, transaction=bought)
    Transaction.objects.create(creator=desk.creator, platform="fanvue", fan=fan, kind=Transaction.Kind.TIP,
                               gross_minor=500, fee_minor=100, net_minor=400, currency="USD", occurred_at=now,
                               external_id="tip-1", source=Transaction.Source.WEBHOOK)
    services.add_note(conversation, by=desk.manager, text="Loves sunsets")
    services.add_fan_note(conversation, by=desk.manager, text="Birthday in May")
    Conversation.objects.filter(pk=conversation.pk).update(held_at=now, held_reason="stated age 16")

    client.force_login(desk.chatter)
    response = client.get(SCREEN, {"c": conversation.pk})
    page = response.content.decode()
    assert response.status_code == 200
    assert "are you there?" in page and "@fan-1" in page
    assert "Golden hour set" in page and reverse("admin:content_asset_rendition_file", args=[asset.pk, "thumb"]) in page
    assert "🔓 Unlocked" in page and "$12.00" in page
    assert "Tip from @fan-1" in page and "$5.00" in page
    assert "ib-msg--note" in page and "Note by mara" in page and "Loves sunsets" in page
    assert "chatty" in page  # the person who sent the PPV
    typed_there = Message(direction=Message.Direction.OUT, origin=Message.Origin.MANUAL)
    assert screen.author_of(typed_there, conversation) == "Written on Fanvue, outside Atelier"
    assert screen.author_of(Message(direction=Message.Direction.OUT, origin=Message.Origin.AI_DRAFT,
                                    sent_by=desk.chatter), conversation) == "AI draft accepted by chatty"
    assert screen.author_of(Message(direction=Message.Direction.OUT, origin=Message.Origin.AUTOMATION),
                            conversation) == "Automation (AI persona)"
    assert "Active ($9.99), renews on" in page
    assert "Golden hour set (message #" in page  # what was bought
    assert "Birthday in May" in page and "vip" in page and "(Europe/Berlin)" in page
    assert "stated age 16" in page and 'data-testid="inbox-risks"' in page
    conversation.refresh_from_db()
    assert conversation.unread_count == 0  # opening the thread read it


def test_the_list_filters_and_search(client, staffed):
    desk = staffed["desk"]
    old = fan_writes(desk.fanvue, "first", fan_id="early", sent_at=timezone.now() - timedelta(hours=3)).conversation
    new = fan_writes(desk.fanvue, "second one about roses", fan_id="late").conversation
    answered = fan_writes(desk.telegram, "hey", fan_id="rich").conversation
    services.send(answered, by=desk.chatter, text="hello!")
    Fan.objects.filter(pk=answered.fan_id).update(lifetime_spend_minor=99_999)
    user = desk.chatter

    def fans(**params):
        return [r.conversation.fan.external_id for r in screen.list_rows(user, screen.ListQuery.from_params(params))]

    assert fans(show="waiting") == ["early", "late"]
    assert fans(show="spenders")[0] == "rich"
    assert fans(q="roses") == ["late"] and fans(q="@earl") == ["early"]
    assert set(fans(show="mine")) == {"early", "late", "rich"}  # round-robin gave them to the one chatter on shift
    assert set(fans(show="onshift")) == {"early", "late", "rich"}
    assert set(fans(show="unread")) == {"early", "late", "rich"}  # a reply leaves the fan's words unread
    services.mark_read(answered, user)
    assert set(fans(show="unread")) == {"early", "late"}
    services.set_status(old, Conversation.Status.CLOSED, by=user)
    assert "early" not in fans() and fans(show="closed") == ["early"]
    client.force_login(user)
    page = client.get(SCREEN, {"show": "waiting"}).content.decode()
    assert page.index("@late") > page.index('data-testid="inbox-rows"')
    assert new.pk


def test_search_finds_rare_and_common_words_within_reach(staffed, monkeypatch):
    """A rare word is looked up directly (its ids), a word past SEARCH_CAP falls back to the newest-first
    walk; either way the same conversations are found, and never another creator's."""
    desk = staffed["desk"]
    fan_writes(desk.fanvue, "the zebra print set", fan_id="zed")
    for i in range(4):
        fan_writes(desk.fanvue, f"thanks, round {i}", fan_id=f"common{i}")
    fan_writes(staffed["other_account"], "a zebra for Nova", fan_id="nova-fan")
    monkeypatch.setattr(screen, "SEARCH_CAP", 2)

    def fans(user, q):
        return {r.conversation.fan.external_id for r in screen.list_rows(user, screen.ListQuery(q=q))}

    commons = {f"common{i}" for i in range(4)}
    assert fans(desk.chatter, "zebra") == {"zed"}  # two messages match, one in reach: looked up by id
    assert fans(desk.chatter, "THANKS") == commons  # four matches > cap: found by the walk
    assert fans(desk.chatter, "common") == commons  # four handles > cap: matched in the walk
    assert fans(desk.chatter, "common2") == {"common2"}
    assert fans(desk.chatter, "nova") == set()
    assert fans(staffed["outsider"], "zebra") == {"nova-fan"}
    monkeypatch.setattr(screen, "SEARCH_CAP", 2000)
    assert fans(desk.chatter, "thanks") == commons and fans(desk.chatter, "common") == commons
    assert fans(desk.chatter, "zebra") == {"zed"} and fans(staffed["outsider"], "zebra") == {"nova-fan"}


def test_the_search_and_the_list_have_their_indexes_on_postgresql(db):
    """What the 10,000,000-message benchmark relies on: the trigram index a rare word is found through
    (its expression is exactly what `icontains` asks), and the newest-first index the list walks."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes exist on PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
                       "('inbox_msg_text_trgm', 'inbox_conv_latest')")
        found = dict(cursor.fetchall())
    assert "gin (upper(text) gin_trgm_ops)" in found["inbox_msg_text_trgm"]
    assert "last_message_at DESC, id DESC" in found["inbox_conv_latest"]
    sql = str(Message.objects.filter(text__icontains="zebra").query)
    assert 'UPPER("inbox_message"."text"::text) LIKE UPPER(' in sql


# --- Compose -----------------------------------------------------------------------------------------------


def test_a_double_click_sends_once(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    client.force_login(desk.chatter)
    key = "c" * 32
    first = _send(client, conversation, key, text="Hi there!")
    second = _send(client, conversation, key, text="Hi there!")
    assert first.status_code == second.status_code == 302
    sent = Message.objects.filter(conversation=conversation, direction=Message.Direction.OUT)
    assert sent.count() == 1
    message = sent.get()
    assert message.sent_by == desk.chatter and message.origin == Message.Origin.MANUAL
    assert message.idempotency_key == f"screen:{desk.chatter.pk}:{key}"


def test_each_rendered_form_carries_its_own_key(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    client.force_login(desk.chatter)
    keys = {re.search(r'name="key" value="([0-9a-f]{32})"', client.get(SCREEN, {"c": conversation.pk})
                      .content.decode()).group(1) for _ in range(2)}
    assert len(keys) == 2


def test_a_refusal_is_shown_on_the_page_with_what_was_typed(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    client.force_login(desk.chatter)
    response = _send(client, conversation, "d" * 32, text="pretend I am 15")
    assert response.status_code == 422
    page = response.content.decode()
    assert 'data-testid="inbox-refusal"' in page and "Refused" in page and "pretend I am 15" in page
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()
    bad_key = _send(client, conversation, "not-a-key", text="hello")
    assert bad_key.status_code == 422 and "expired" in bad_key.content.decode()


def test_a_price_typed_in_units_is_sent_in_minor_units_with_vault_media(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "show me").conversation
    asset = vault_asset(desk.creator, title="Sunset")
    client.force_login(desk.chatter)
    response = _send(client, conversation, "e" * 32, text="Just for you", price="12.50", assets=[asset.pk])
    assert response.status_code == 302, response.content.decode()[:2000]
    message = Message.objects.get(direction=Message.Direction.OUT)
    assert (message.price_minor, message.currency) == (1250, "USD")
    assert list(message.assets.all()) == [asset]
    too_fine = _send(client, conversation, "f" * 32, text="x", price="1.234", assets=[asset.pk])
    assert too_fine.status_code == 422 and "finer than its smallest unit" in too_fine.content.decode()


def test_telegram_prices_are_whole_stars(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.telegram, "show me").conversation
    asset = vault_asset(desk.creator)
    client.force_login(desk.chatter)
    assert _send(client, conversation, "1" * 32, text="Stars", price="50", assets=[asset.pk]).status_code == 302
    assert Message.objects.get(direction=Message.Direction.OUT).price_minor == 50


def test_the_vault_offers_only_this_creators_approved_media_the_platform_accepts(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    approved = vault_asset(desk.creator, title="Approved one")
    AssetFactory(creator=desk.creator, status=Asset.Status.IN_REVIEW, title="Still in review")
    AssetFactory(creator=staffed["other"], status=Asset.Status.APPROVED, title="Another creator's")
    assert [m.asset for m in screen.vault(desk.chatter, conversation)] == [approved]
    client.force_login(desk.chatter)
    # An asset out of the vault posted by hand is not a choice of the form: refused, nothing sent.
    other = Asset.objects.get(title="Another creator's")
    assert _send(client, conversation, "2" * 32, text="x", assets=[other.pk]).status_code == 422
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()


def test_a_script_fills_its_placeholders_and_is_recorded(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi", fan_id="sam").conversation
    script = Script.objects.create(creator=desk.creator, name="Welcome", text="Hi {fan_name}, {creator_name} here!")
    client.force_login(desk.chatter)
    page = client.get(SCREEN, {"c": conversation.pk}).content.decode()
    assert 'data-text="Hi sam, Luna here!"' in page
    assert _send(client, conversation, "3" * 32, text="Hi sam, Luna here!", script=script.pk).status_code == 302
    message = Message.objects.get(direction=Message.Direction.OUT)
    assert message.origin == Message.Origin.SCRIPT and message.script == script


def test_an_internal_note_stays_inside(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    client.force_login(desk.chatter)
    response = client.post(reverse("admin:inbox_send", args=[conversation.pk]),
                           {"key": "4" * 32, "do": "note", "text": "Asked about prices twice"})
    assert response.status_code == 302
    note = Message.objects.get(direction=Message.Direction.NOTE)
    assert note.text == "Asked about prices twice" and note.send_status == Message.SendStatus.SENT


def test_draft_with_ai_says_so_when_drafting_is_missing(client, staffed, monkeypatch):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    client.force_login(desk.chatter)
    monkeypatch.setattr(screen, "draft_function", lambda: None)
    response = client.post(reverse("admin:inbox_draft", args=[conversation.pk]), follow=True)
    assert "AI drafting is not installed" in response.content.decode()
    assert not AIDraft.objects.exists()


def test_a_draft_opens_in_compose_and_goes_out_as_an_accepted_ai_draft(client, staffed, monkeypatch):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation

    def draft_reply(conv, *, by):
        return AIDraft.objects.create(creator=conv.creator, conversation=conv, prompt_version="t1",
                                      text="Hey you, thanks for writing!")

    monkeypatch.setattr(screen, "draft_function", lambda: draft_reply)
    monkeypatch.setattr(screen, "accept_function", lambda: None)  # without the drafting module's own accept
    client.force_login(desk.chatter)
    response = client.post(reverse("admin:inbox_draft", args=[conversation.pk]))
    draft = AIDraft.objects.get()
    assert response.status_code == 302 and f"draft={draft.pk}" in response["Location"]
    page = client.get(response["Location"]).content.decode()
    assert "Hey you, thanks for writing!" in page and 'data-testid="inbox-draft"' in page
    assert _send(client, conversation, "5" * 32, text="Hey you, thanks for writing!", draft=draft.pk).status_code == 302
    message = Message.objects.get(direction=Message.Direction.OUT)
    assert message.origin == Message.Origin.AI_DRAFT and message.ai_draft == draft and message.ai_generated


# --- The soft lock -----------------------------------------------------------------------------------------


def test_while_one_chatter_types_the_other_sees_it_and_cannot_send(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    client.force_login(desk.manager)
    assert client.post(reverse("admin:inbox_lock", args=[conversation.pk])).json() == {"held": True, "holder": ""}

    client.force_login(desk.chatter)
    assert client.post(reverse("admin:inbox_lock", args=[conversation.pk])).json() == {"held": False,
                                                                                       "holder": "mara"}
    assert _live(client, c=conversation.pk, after=0).json()["thread"]["lock"] == {"holder": "mara", "mine": False}
    assert "mara is typing" in client.get(SCREEN, {"c": conversation.pk}).content.decode()
    refused = _send(client, conversation, "6" * 32, text="me too")
    assert refused.status_code == 422 and "mara is writing in this conversation" in refused.content.decode()

    client.force_login(desk.manager)
    assert _send(client, conversation, "7" * 32, text="Got it").status_code == 302  # the holder sends; the lock ends
    client.force_login(desk.chatter)
    assert _send(client, conversation, "8" * 32, text="And me").status_code == 302
    lock_url = reverse("admin:inbox_lock", args=[conversation.pk])
    assert client.post(lock_url).json()["held"] is True
    assert client.post(lock_url, {"release": "1"}).json()["held"] is False  # leaving the page lets go
    conversation.refresh_from_db()
    assert services.lock_holder(conversation) is None


# --- Live updates ------------------------------------------------------------------------------------------


def test_the_live_endpoint_brings_a_new_message_and_states(client, staffed):
    desk = staffed["desk"]
    first = fan_writes(desk.fanvue, "first words", fan_id="lee")
    conversation = first.conversation
    reply = services.send(conversation, by=desk.chatter, text="hello lee")
    client.force_login(desk.chatter)
    baseline = _live(client, c=conversation.pk, after=reply.pk).json()
    assert baseline["thread"]["html"].strip() == "" and baseline["list"]["html"] is not None
    sig = baseline["list"]["signature"]
    assert _live(client, c=conversation.pk, after=reply.pk, sig=sig).json()["list"]["html"] is None

    services.receive(desk.fanvue, incoming(fan_id="lee", text="are you still there?"))
    Message.objects.filter(pk=reply.pk).update(read_at=timezone.now(), send_status=Message.SendStatus.SENT)
    delta = _live(client, c=conversation.pk, after=reply.pk, sig=sig, visible=1).json()
    assert "are you still there?" in delta["thread"]["html"]
    assert delta["thread"]["last"] > reply.pk
    assert delta["thread"]["states"][str(reply.pk)]["state"].startswith("Sent · seen")
    assert "are you still there?" in delta["list"]["html"]  # the list moved too
    conversation.refresh_from_db()
    assert conversation.unread_count == 0  # on screen: read


def test_a_poll_costs_a_bounded_number_of_queries(client, staffed, django_assert_max_num_queries):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi", fan_id="q0").conversation
    last = Message.objects.latest("pk").pk
    client.force_login(desk.chatter)
    _live(client, c=conversation.pk, after=last)  # warm the session
    with django_assert_max_num_queries(10):
        _live(client, c=conversation.pk, after=last)
    for n in range(1, 15):
        fan_writes(desk.fanvue, f"hello {n}", fan_id=f"q{n}")
    asset = vault_asset(desk.creator)
    services.send(conversation, by=desk.chatter, text="pic", assets=[asset])
    fan_writes(desk.fanvue, "more", fan_id="q0")
    # Fifteen conversations, two new messages with media in the thread: still the same handful of queries.
    with django_assert_max_num_queries(14):
        data = _live(client, c=conversation.pk, after=last, visible=1).json()
    assert "more" in data["thread"]["html"] and "pic" in data["thread"]["html"]


# --- Assignment --------------------------------------------------------------------------------------------


def test_new_conversations_go_round_the_chatters_on_shift(staffed):
    desk = staffed["desk"]
    second = UserFactory(username="sunny")
    accounts_services.add_membership(user=second, creator=desk.creator, role=Role.CHATTER)
    now = timezone.now()
    Shift.objects.create(creator=desk.creator, chatter=second, starts_at=now - timedelta(hours=1),
                         ends_at=now + timedelta(hours=1))
    off_shift = UserFactory(username="later")
    accounts_services.add_membership(user=off_shift, creator=desk.creator, role=Role.CHATTER)
    Shift.objects.create(creator=desk.creator, chatter=off_shift, starts_at=now + timedelta(hours=2),
                         ends_at=now + timedelta(hours=3))
    owners = [fan_writes(desk.fanvue, "hi", fan_id=f"rr{n}").conversation.assignee for n in range(4)]
    assert owners == [desk.chatter, second, desk.chatter, second]
    # A second message keeps its chatter; nobody on shift leaves a new one in the pool.
    fan_writes(desk.fanvue, "again", fan_id="rr0")
    assert Conversation.objects.get(fan__external_id="rr0").assignee == desk.chatter
    Shift.objects.all().delete()
    assert fan_writes(desk.fanvue, "hi", fan_id="nobody").conversation.assignee is None
    assert AuditEvent.objects.filter(action="inbox.conversation.assigned").count() == 4


def test_a_manager_reassigns_and_a_chatter_only_takes_from_the_pool(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    assert conversation.assignee == desk.chatter
    url = reverse("admin:inbox_assign", args=[conversation.pk])
    client.force_login(desk.chatter)
    assert client.post(url, {"to": desk.manager.pk}).status_code == 403
    client.force_login(desk.manager)
    assert client.post(url, {"to": staffed["outsider"].pk}).status_code == 302  # not on the team: refused
    conversation.refresh_from_db()
    assert conversation.assignee == desk.chatter
    assert client.post(url, {"to": ""}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.assignee is None
    client.force_login(desk.chatter)
    assert client.post(url, {"to": "me"}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.assignee == desk.chatter


def test_close_and_reopen(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "bye").conversation
    client.force_login(desk.chatter)
    url = reverse("admin:inbox_status", args=[conversation.pk])
    assert client.post(url, {"status": "closed"}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED
    assert client.post(url, {"status": "open"}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN


def test_a_note_on_the_fan(client, staffed):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    client.force_login(desk.chatter)
    client.post(reverse("admin:inbox_fan_note", args=[conversation.pk]), {"text": "Likes cats"})
    assert FanNote.objects.get().text == "Likes cats"


# --- The admin pages ---------------------------------------------------------------------------------------


def test_the_inbox_admin_pages_follow_tenancy_and_read_only_rows(client, staffed):
    desk = staffed["desk"]
    message = fan_writes(desk.fanvue, "hi")
    client.force_login(desk.chatter)
    assert client.get(reverse("admin:inbox_conversation_changelist")).status_code == 200
    assert client.get(reverse("admin:inbox_message_change", args=[message.pk])).status_code == 200
    before = Message.objects.values().get(pk=message.pk)
    client.post(reverse("admin:inbox_message_change", args=[message.pk]), {"text": "edited"})
    assert Message.objects.values().get(pk=message.pk) == before
    client.force_login(staffed["outsider"])
    assert client.get(reverse("admin:inbox_conversation_change", args=[message.conversation_id])).status_code == 404


def test_managers_keep_scripts_and_shifts_clean(client, staffed):
    desk = staffed["desk"]
    client.force_login(desk.manager)
    add = reverse("admin:inbox_script_add")
    refused = client.post(add, {"creator": desk.creator.pk, "name": "Bad", "text": "Hi {fan}", "currency": "USD",
                                "active": "on", "_save": "Save"})
    assert refused.status_code == 200 and "Unknown placeholder {fan}" in refused.content.decode()
    assert client.post(add, {"creator": desk.creator.pk, "name": "Hello", "text": "Hi {fan_name}", "price": "4.99",
                             "currency": "USD", "active": "on", "_save": "Save"}).status_code == 302
    assert Script.objects.get().price_minor == 499
    start = timezone.localtime() + timedelta(days=1)
    shift = {"creator": desk.creator.pk, "starts_at_0": start.strftime("%Y-%m-%d"), "starts_at_1": "09:00:00",
             "ends_at_0": start.strftime("%Y-%m-%d"), "ends_at_1": "17:00:00", "_save": "Save"}
    outsider = client.post(reverse("admin:inbox_shift_add"), {**shift, "chatter": staffed["outsider"].pk})
    assert outsider.status_code == 200 and not Shift.objects.filter(chatter=staffed["outsider"]).exists()
    assert client.post(reverse("admin:inbox_shift_add"), {**shift, "chatter": desk.chatter.pk}).status_code == 302
    overlapping = client.post(reverse("admin:inbox_shift_add"), {**shift, "chatter": desk.chatter.pk})
    assert "already has a shift" in overlapping.content.decode()
    client.force_login(desk.chatter)
    assert client.post(add, {"creator": desk.creator.pk, "name": "Mine", "text": "x", "currency": "USD",
                             "_save": "Save"}).status_code == 403


def test_the_sidebar_opens_the_inbox_for_those_who_may(client, staffed):
    desk = staffed["desk"]
    editor = UserFactory(username="eddie")
    accounts_services.add_membership(user=editor, creator=desk.creator, role=Role.EDITOR)
    for user, shown in ((desk.chatter, True), (desk.manager, True), (editor, False)):
        request = RequestFactory().get("/admin/")
        request.user = user
        links = [i["link"] for group in navigation.sidebar(request) for i in group["items"]
                 if i.get("permission", lambda r: True)(request)]
        assert (SCREEN in links) == shown, user
    client.force_login(desk.chatter)
    assert client.get(SCREEN).status_code == 200


@pytest.mark.parametrize("junk", ["", "abc", "-1", "99999999999999999999", "١٢", "\x00", "1e9999", "NaN", "x" * 3000])
def test_no_input_makes_the_screen_fail(client, staffed, junk):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    client.force_login(desk.manager)
    pk = conversation.pk
    answers = [
        client.get(SCREEN, {"c": junk, "show": junk, "q": junk, "draft": junk}),
        client.get(SCREEN, {"c": pk, "draft": junk}),
        _live(client, c=pk, after=junk, sig=junk, show=junk, q=junk),
        _live(client, c=junk),
        client.post(reverse("admin:inbox_send", args=[pk]), {"key": junk, "text": junk, "script": junk,
                                                             "draft": junk, "assets": [junk], "price": junk}),
        _send(client, conversation, "9" * 32, text="hi", price=junk, script=junk, draft=junk),
        client.post(reverse("admin:inbox_assign", args=[pk]), {"to": junk}),
        client.post(reverse("admin:inbox_status", args=[pk]), {"status": junk}),
        client.post(reverse("admin:inbox_fan_note", args=[pk]), {"text": junk}),
        client.post(reverse("admin:inbox_lock", args=[pk]), {"release": junk}),
    ]
    assert all(a.status_code < 500 for a in answers), [a.status_code for a in answers]


def test_a_draft_sent_as_suggested_goes_through_the_drafting_modules_accept(client, staffed, monkeypatch):
    desk = staffed["desk"]
    conversation = fan_writes(desk.fanvue, "hi").conversation
    draft = AIDraft.objects.create(creator=desk.creator, conversation=conversation, prompt_version="t1", text="Hey!")
    accepted = []

    def accept(draft_obj, *, by, text, idempotency_key, with_suggestions):
        accepted.append((draft_obj, by, text, idempotency_key, with_suggestions))
        return services.send(draft_obj.conversation, by=by, text=text, origin=Message.Origin.AI_DRAFT,
                             draft=draft_obj, idempotency_key=idempotency_key)

    monkeypatch.setattr(screen, "accept_function", lambda: accept)
    client.force_login(desk.chatter)
    assert _send(client, conversation, "a1" * 16, text="Hey you!", draft=draft.pk).status_code == 302
    assert accepted == [(draft, desk.chatter, "Hey you!", f"screen:{desk.chatter.pk}:{'a1' * 16}", True)]
