"""The inbox's admin screens under a staff member with bad intent or clumsy hands: odd query strings and
posts never make a 5xx, ids guessed across creators reach nothing, refusals keep what was typed, the soft
lock holds and lapses, and conduct rules stop scripts as they stop messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import AuditEvent, Membership, Role
from analytics.models import Fan
from inbox import services
from inbox.models import AIDraft, Conversation, FanNote, Message, Script
from tests.factories import CreatorFactory, UserFactory
from tests.inbox.factories import fan_writes
from tests.inbox.screen_helpers import vault_asset
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db

SCREEN = "/admin/inbox/"
JUNK = ["", "abc", "-1", "0", str(10**20), "١٢", "²", "\x00", "1e309", "NaN", "x" * 10_000, "9999-99-99",
        "2026-13-45", "0001-01-01", "9999-12-31", "%", "' OR 1=1 --"]


@pytest.fixture
def world(desk, media_dir):
    """Luna's desk with role groups given through the service; Nova, another creator with her own chatter,
    manager, conversation, script, draft and fan note; a compliance officer and an analyst of Luna."""
    for user, role in ((desk.chatter, Role.CHATTER), (desk.manager, Role.MANAGER)):
        Membership.objects.filter(user=user, creator=desk.creator).delete()
        accounts_services.add_membership(user=user, creator=desk.creator, role=role)
    officer, analyst = UserFactory(username="cora"), UserFactory(username="ana")
    accounts_services.add_membership(user=officer, creator=desk.creator, role=Role.COMPLIANCE)
    accounts_services.add_membership(user=analyst, creator=desk.creator, role=Role.ANALYST)
    nova = CreatorFactory(stage_name="Nova")
    nova_chatter, nova_manager = UserFactory(username="otto"), UserFactory(username="nina")
    accounts_services.add_membership(user=nova_chatter, creator=nova, role=Role.CHATTER)
    accounts_services.add_membership(user=nova_manager, creator=nova, role=Role.MANAGER)
    nova_account = PlatformAccountFactory(creator=nova, platform="fanvue", handle="nova")
    theirs = fan_writes(nova_account, "Nova's fan here", fan_id="nova-fan").conversation
    services.add_fan_note(theirs, by=nova_manager, text="Nova's private note")
    mine = fan_writes(desk.fanvue, "hello Luna", fan_id="luna-fan").conversation
    return {
        "desk": desk, "mine": mine, "theirs": theirs, "nova": nova, "nova_chatter": nova_chatter,
        "nova_manager": nova_manager, "officer": officer, "analyst": analyst,
        "nova_script": Script.objects.create(creator=nova, name="Nova hi", text="Hi from Nova"),
        "nova_draft": AIDraft.objects.create(creator=nova, conversation=theirs, prompt_version="t", text="Nova draft"),
        "nova_asset": vault_asset(nova, title="Nova pic"),
    }


def _send(client, conversation, key, **data):
    return client.post(reverse("admin:inbox_send", args=[conversation.pk]), {"key": key, "do": "send", **data})


def _people(world):
    desk = world["desk"]
    return [desk.chatter, desk.manager, world["officer"], world["analyst"], world["nova_chatter"]]


# --- No input makes a 5xx -----------------------------------------------------------------------------------


@pytest.mark.parametrize("junk", JUNK)
def test_odd_query_strings_never_make_a_server_error_on_the_pages(client, world, junk):
    desk = world["desk"]
    review, metrics = reverse("admin:inbox_message_review"), reverse("admin:inbox_chatter_performance")
    client.force_login(desk.manager)
    answers = {
        "screen": client.get(SCREEN, {"c": world["mine"].pk, "show": junk, "q": junk, "draft": junk,
                                      "filter": "unknown"}),
        "live": client.get(reverse("admin:inbox_live"), {"c": world["mine"].pk, "after": junk, "since": junk,
                                                         "cursor": junk, "sig": junk, "q": junk, "visible": junk}),
        "review": client.get(review, {"start": junk, "end": junk, "creator": junk, "chatter": junk,
                                      "conversation": junk, "page": junk}),
        "review-id": client.get(review, {"conversation": junk}),
        "review-creator": client.get(review, {"creator": junk}),
        "review-page": client.get(review, {"page": junk}),
        "review-end": client.get(review, {"end": junk}),
        "review-csv": client.get(review, {"end": junk, "format": "csv"}),
        "metrics": client.get(metrics, {"start": junk, "end": junk, "creator": junk, "chatter": junk}),
        "metrics-end": client.get(metrics, {"end": junk}),
        "metrics-start": client.get(metrics, {"start": junk, "end": junk}),
    }
    for name in ("conversation", "message", "script", "shift", "aidraft", "fannote", "reportingevent"):
        url = reverse(f"admin:inbox_{name}_changelist")
        answers[name] = client.get(url, {"q": junk, "p": junk, "o": junk})
        answers[f"{name}-filter"] = client.get(url, {"creator__id__exact": junk, "status__exact": junk,
                                                     "held": junk, "filter": "unknown"})
        answers[f"{name}-change"] = client.get(f"{url}{junk.replace('/', '')[:50]}/change/")
    answers["reportingevent-dates"] = client.get(reverse("admin:inbox_reportingevent_changelist"),
                                                 {"at__year": junk, "at__month": junk, "at__day": junk})
    broken = {name: a.status_code for name, a in answers.items() if a.status_code >= 500}
    assert not broken


def test_the_largest_date_the_form_takes_is_refused_on_the_form_not_with_a_crash(client, world):
    client.force_login(world["desk"].manager)
    for name in ("inbox_chatter_performance", "inbox_message_review"):
        answer = client.get(reverse(f"admin:{name}"), {"start": "9999-12-30", "end": "9999-12-31"})
        assert answer.status_code == 400, name
        assert "Choose a period between" in answer.content.decode()


@pytest.mark.parametrize("junk", ["²", "³", "¹²"])
def test_digits_that_are_not_decimal_are_not_ids(client, world, junk):
    client.force_login(world["desk"].manager)
    review = reverse("admin:inbox_message_review")
    assert client.get(review, {"conversation": junk}).status_code == 404
    assert client.get(review, {"creator": junk}).status_code == 404


@pytest.mark.parametrize("price", ["1e309", "NaN", "sNaN", "Infinity", "-5", "0.001", "١٢", "", " ", "1,2,3",
                                   "9" * 20, "0x10", "1_000", "\x00"])
def test_odd_prices_are_refused_in_words_with_what_was_typed(client, world, price):
    desk, conversation = world["desk"], world["mine"]
    asset = vault_asset(desk.creator, title="Sunset")
    client.force_login(desk.chatter)
    answer = _send(client, conversation, "a" * 32, text="Typed with care", price=price, assets=[asset.pk])
    assert answer.status_code in (302, 422), answer.status_code
    if answer.status_code == 422:
        assert "Typed with care" in answer.content.decode()
    for message in Message.objects.filter(direction=Message.Direction.OUT):
        assert message.price_minor is None or message.price_minor > 0


def test_posts_without_the_csrf_token_are_refused(world):
    desk, conversation = world["desk"], world["mine"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(desk.manager)
    pk = conversation.pk
    for name, data in (("inbox_send", {"key": "b" * 32, "text": "hi"}), ("inbox_lock", {}),
                       ("inbox_draft", {}), ("inbox_assign", {"to": ""}), ("inbox_status", {"status": "closed"}),
                       ("inbox_fan_note", {"text": "note"})):
        assert client.post(reverse(f"admin:{name}", args=[pk]), data).status_code == 403, name
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()
    assert not FanNote.objects.filter(fan_id=conversation.fan_id).exists()
    conversation.refresh_from_db()
    assert conversation.status != Conversation.Status.CLOSED and conversation.locked_by_id is None


# --- Tenancy: ids guessed across creators -------------------------------------------------------------------


def test_another_creators_script_asset_draft_and_people_reach_nothing(client, world):
    desk, conversation = world["desk"], world["mine"]
    client.force_login(desk.chatter)
    # Another creator's script or another conversation's draft is refused in words, the text kept, nothing sent.
    for key, field, said in (("c1", "script", "not one of this creator"), ("c2", "draft", "not this conversation")):
        answer = _send(client, conversation, key * 16, text="hello from me",
                       **{field: world[f"nova_{field}"].pk})
        assert answer.status_code == 422 and said in answer.content.decode().replace("&#x27;", "'")
        assert "hello from me" in answer.content.decode()
    assert not Message.objects.filter(conversation=conversation, direction=Message.Direction.OUT).exists()
    assert _send(client, conversation, "d" * 32, text="pic", assets=[world["nova_asset"].pk]).status_code == 422
    page = client.get(SCREEN, {"c": conversation.pk, "draft": world["nova_draft"].pk}).content.decode()
    assert "Nova draft" not in page and "Nova hi" not in page and "Nova&#x27;s private note" not in page
    client.force_login(desk.manager)
    client.post(reverse("admin:inbox_assign", args=[conversation.pk]), {"to": world["nova_chatter"].pk})
    conversation.refresh_from_db()
    assert conversation.assignee_id != world["nova_chatter"].pk


def test_a_chatter_of_luna_reaches_none_of_novas_screens_by_guessing(client, world):
    desk, theirs = world["desk"], world["theirs"]
    client.force_login(desk.chatter)
    assert client.get(SCREEN, {"c": theirs.pk}).status_code == 404
    assert client.get(reverse("admin:inbox_live"), {"c": theirs.pk}).status_code == 404
    for name in ("inbox_send", "inbox_lock", "inbox_draft", "inbox_assign", "inbox_status", "inbox_fan_note"):
        assert client.post(reverse(f"admin:{name}", args=[theirs.pk]),
                           {"key": "e" * 32, "text": "x", "to": "me", "status": "closed"}).status_code == 404, name
    for name, pk in (("conversation", theirs.pk), ("script", world["nova_script"].pk),
                     ("aidraft", world["nova_draft"].pk),
                     ("fannote", FanNote.objects.get(fan_id=theirs.fan_id).pk)):
        assert client.get(reverse(f"admin:inbox_{name}_change", args=[pk])).status_code == 404, name
    listed = client.get(reverse("admin:inbox_fannote_changelist")).content.decode()
    assert "Nova&#x27;s private note" not in listed and "Nova's private note" not in listed
    theirs.refresh_from_db()
    assert theirs.status != Conversation.Status.CLOSED and theirs.locked_by_id is None
    assert not Message.objects.filter(conversation=theirs, direction=Message.Direction.OUT).exists()


def test_the_fans_privacy_actions_are_for_managers_of_the_fans_creator_and_audited(client, world):
    desk, mine, theirs = world["desk"], world["mine"], world["theirs"]
    fans = reverse("admin:analytics_fan_changelist")
    conversations = reverse("admin:inbox_conversation_changelist")
    for user in (desk.chatter, world["officer"], world["analyst"]):
        client.force_login(user)
        for url, pk in ((fans, mine.fan_id), (conversations, mine.pk)):
            for action in ("inbox_export_fan", "export_conversation_fan", "inbox_erase_fans",
                           "erase_conversation_fans"):
                answer = client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [pk], "apply": "1",
                                           "reason": "x"})
                assert answer.status_code in (403, 404) or answer["Content-Type"].startswith("text/html"), user
    client.force_login(desk.manager)
    for url, pk in ((fans, theirs.fan_id), (conversations, theirs.pk)):
        for action in ("inbox_export_fan", "export_conversation_fan"):
            answer = client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [pk]})
            assert not answer["Content-Type"].startswith("application/json")
        for junk in ("abc", "", str(10**20), "\x00"):
            answer = client.post(url, {"action": "inbox_export_fan", ACTION_CHECKBOX_NAME: [junk]})
            assert answer.status_code < 500, junk
            answer = client.post(url, {"action": "export_conversation_fan", ACTION_CHECKBOX_NAME: [junk]})
            assert answer.status_code < 500, junk
    assert not AuditEvent.objects.filter(action__in=["inbox.fan.exported", "inbox.fan.erased"]).exists()
    assert Fan.objects.get(pk=mine.fan_id).handle and Fan.objects.get(pk=theirs.fan_id).handle
    answer = client.post(conversations, {"action": "export_conversation_fan", ACTION_CHECKBOX_NAME: [mine.pk]})
    assert answer["Content-Type"].startswith("application/json")
    assert AuditEvent.objects.filter(action="inbox.fan.exported", actor=desk.manager).count() == 1


# --- Refusals keep what was typed ---------------------------------------------------------------------------


def test_a_fan_note_too_long_is_refused_in_words_and_kept_on_the_page(client, world):
    desk, conversation = world["desk"], world["mine"]
    client.force_login(desk.chatter)
    long_note = "Likes long walks. " * 60_000  # about 1 MB
    answer = client.post(reverse("admin:inbox_fan_note", args=[conversation.pk]), {"text": long_note})
    assert answer.status_code < 500
    kept = list(FanNote.objects.filter(fan_id=conversation.fan_id).values_list("text", flat=True))
    # Either the whole note is kept, or nothing is and the page says why with the words still there.
    if kept:
        assert kept == [long_note.strip()]
    else:
        assert answer.status_code == 422
        page = answer.content.decode()
        assert "characters" in page and long_note[:2000] in page
    answer = client.post(reverse("admin:inbox_fan_note", args=[conversation.pk]), {"text": "Night\x00 owl"})
    assert answer.status_code < 500


def test_a_status_out_of_the_screens_choices_is_refused_in_words(client, world):
    desk, conversation = world["desk"], world["mine"]
    client.force_login(desk.chatter)
    for wanted in ("snoozed", "pending", "deleted", ""):
        answer = client.post(reverse("admin:inbox_status", args=[conversation.pk]),
                             {"status": wanted, "snoozed_until": "yesterday"}, follow=True)
        assert answer.status_code == 200 and "Close or reopen" in answer.content.decode()
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN


# --- The soft lock ------------------------------------------------------------------------------------------


def test_the_lock_keeps_a_second_sender_out_until_it_lapses(client, world):
    desk, conversation = world["desk"], world["mine"]
    lock = reverse("admin:inbox_lock", args=[conversation.pk])
    client.force_login(desk.manager)
    assert client.post(lock).json()["held"] is True
    client.force_login(desk.chatter)
    assert client.post(lock).json()["held"] is False
    refused = _send(client, conversation, "f" * 32, text="Mine first")
    assert refused.status_code == 422 and "Mine first" in refused.content.decode()
    # A release posted by someone else lets nothing go.
    assert client.post(lock, {"release": "1"}).status_code == 200
    conversation.refresh_from_db()
    assert conversation.locked_by_id == desk.manager.pk
    # The manager stopped typing: a minute after the last keystroke the lock has lapsed.
    Conversation.objects.filter(pk=conversation.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1))
    assert _send(client, conversation, "f" * 32, text="Mine first").status_code == 302
    assert client.post(lock).json()["held"] is True
    client.force_login(desk.manager)
    assert _send(client, conversation, "0" * 32, text="late").status_code == 422
    assert Message.objects.filter(conversation=conversation, direction=Message.Direction.OUT).count() == 1


# --- Conduct: scripts and drafts ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Hi {fan_name}, it's really me!", "I'm online right now, {fan_name}",
                                  "Luna here! Write me back", "No chatters here, just me personally"])
def test_a_script_claiming_to_be_the_creator_is_refused_when_saved(client, world, text):
    desk = world["desk"]
    client.force_login(desk.manager)
    answer = client.post(reverse("admin:inbox_script_add"), {"creator": desk.creator.pk, "name": "Claim",
                                                             "text": text, "currency": "USD", "active": "on",
                                                             "_save": "Save"})
    assert answer.status_code == 200 and "Fanvue forbids" in answer.content.decode()
    assert not Script.objects.filter(name="Claim").exists()


def test_a_draft_goes_out_once_and_records_its_edit_even_when_its_media_changed(client, world):
    desk, conversation = world["desk"], world["mine"]
    draft = AIDraft.objects.create(creator=desk.creator, conversation=conversation, prompt_version="t",
                                   text="Hey you, thanks for writing", suggested_price_minor=900)
    draft.suggested_assets.add(vault_asset(desk.creator, title="Suggested"))
    client.force_login(desk.chatter)
    # The chatter drops the suggested media and price: the screen sends the words as a plain AI draft.
    assert _send(client, conversation, "e" * 32, text="Hey you, thanks for writing!", draft=draft.pk
                 ).status_code == 302
    draft.refresh_from_db()
    assert (draft.outcome, draft.edit_distance, draft.decided_by) == (AIDraft.Outcome.EDITED, 1, desk.chatter)
    again = _send(client, conversation, "f" * 32, text="Hey you, thanks for writing", draft=draft.pk)
    assert again.status_code == 422 and "already sent after edits" in again.content.decode()
    assert Message.objects.filter(conversation=conversation, ai_draft=draft).count() == 1


def test_a_draft_of_another_kind_or_already_decided_cannot_be_sent_as_an_ai_draft_twice(client, world):
    desk, conversation = world["desk"], world["mine"]
    draft = AIDraft.objects.create(creator=desk.creator, conversation=conversation, prompt_version="t",
                                   text="It's really me, Luna", outcome=AIDraft.Outcome.REFUSED)
    client.force_login(desk.chatter)
    answer = _send(client, conversation, "1" * 32, text="It's really me, Luna", draft=draft.pk)
    assert answer.status_code == 422 and "It&#x27;s really me, Luna" in answer.content.decode()
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()
