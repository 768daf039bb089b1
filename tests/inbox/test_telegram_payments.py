"""Money in a bot's private chats: a paid media purchase credits the exact message and the chatter who sent
it once, however Telegram delivers it; invoices are checked out only for what was offered; /paysupport is
answered by the bot itself."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.utils import timezone
from PIL import Image

from analytics.models import InboundEvent, Transaction, WebhookReceiver
from inbox import services
from inbox.channels.base import MediaItem, SendRequest
from inbox.channels.telegram import TelegramChannel
from inbox.models import Conversation, Message, ReportingEvent
from inbox.telegram_updates import PAYSUPPORT_TEXT
from scheduling.services import account_ref
from tests.inbox.conftest import Desk
from tests.inbox.factories import conversation as conversation_with
from tests.inbox.telegram_fake import FakeBotApi, Updates, connect, deliver, open_receiver, running_bot
from tests.scheduling.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db

OUT_IDS = itertools.count(9001)
SAM = Updates.user(424242, "sam_fan", "Sam")
ALEX = Updates.user(515151, "alex", "Alex")


@dataclass
class Bot:
    api: FakeBotApi
    receiver: WebhookReceiver
    secret: str
    url: str
    desk: Desk
    updates: Updates

    def post(self, client, capture, *updates) -> None:
        with capture(execute=True):
            for update in updates:
                assert deliver(client, self.url, update, self.secret).status_code == 200


@pytest.fixture
def bot(desk, settings, eager_celery, monkeypatch) -> Iterator[Bot]:
    monkeypatch.setattr(TelegramChannel, "per_chat_interval", 0.001)
    with running_bot(settings) as api:
        connect(desk.telegram)
        for user in (SAM, ALEX):
            api.add_fan(user["id"], user["username"])
        receiver, secret, url = open_receiver(desk.telegram)
        yield Bot(api, receiver, secret, url, desk, Updates())


def started(client, bot: Bot, capture, user=SAM) -> Conversation:
    bot.post(client, capture, bot.updates.message(user, "/start"))
    return Conversation.objects.get(account=bot.desk.telegram, fan__external_id=str(user["id"]))


def paid_message(conversation: Conversation, by, *, stars: int = 250, key: str = "ppv-1") -> Message:
    """A paid message as the send pipeline leaves it once Telegram took it."""
    now = timezone.now()
    return Message.objects.create(
        creator_id=conversation.creator_id, conversation=conversation, account_id=conversation.account_id,
        direction=Message.Direction.OUT, text="Unlock the set", price_minor=stars, currency="XTR", sent_by=by,
        origin=Message.Origin.MANUAL, send_status=Message.SendStatus.SENT, idempotency_key=key,
        external_id=f"{conversation.external_id}:{next(OUT_IDS)}", sent_at=now, created_at=now)


def test_a_paid_media_purchase_credits_the_message_and_chatter_once_even_delivered_twice(
        client, bot, django_capture_on_commit_callbacks):
    conversation = started(client, bot, django_capture_on_commit_callbacks)
    message = paid_message(conversation, bot.desk.chatter)
    bought = bot.updates.paid_media_bought(SAM, "key:ppv-1")
    # The same update re-sent, and the same purchase under a second update_id.
    bot.post(client, django_capture_on_commit_callbacks, bought, bought,
             bot.updates.paid_media_bought(SAM, "key:ppv-1"))

    sale = Transaction.objects.get()
    assert (sale.kind, sale.gross_minor, sale.currency, sale.source) == ("paid_message", 250, "XTR", "webhook")
    assert (sale.platform, sale.account, sale.fan) == ("telegram", bot.desk.telegram, conversation.fan)
    message.refresh_from_db()
    assert message.transaction == sale and message.purchased_at is not None
    credit = ReportingEvent.objects.get(kind=ReportingEvent.Kind.PURCHASE_CREDITED)
    assert (credit.message, credit.chatter, credit.amount_minor, credit.currency) == (message, bot.desk.chatter,
                                                                                      250, "XTR")
    assert credit.shift is not None and credit.transaction == sale
    assert InboundEvent.objects.count() == 3  # /start and the purchase under two update ids
    assert not InboundEvent.objects.exclude(error="").exists()


def test_the_payload_may_name_the_message_by_id(client, bot, django_capture_on_commit_callbacks):
    conversation = started(client, bot, django_capture_on_commit_callbacks)
    message = paid_message(conversation, bot.desk.chatter, key="client-key")
    bot.post(client, django_capture_on_commit_callbacks, bot.updates.paid_media_bought(SAM, f"msg:{message.pk}"))
    message.refresh_from_db()
    assert message.transaction is not None


def test_a_payload_naming_nothing_of_this_bot_is_left_for_a_person(client, bot, desk,
                                                                   django_capture_on_commit_callbacks):
    other = PlatformAccountFactory(creator=desk.creator, platform="telegram", handle="other_bot")
    connect(other)
    elsewhere = conversation_with(other, fan_id="424242")
    paid_message(elsewhere, desk.chatter, key="other-bots-ppv")
    started(client, bot, django_capture_on_commit_callbacks)
    bot.post(client, django_capture_on_commit_callbacks, bot.updates.paid_media_bought(SAM, "key:other-bots-ppv"),
             bot.updates.paid_media_bought(SAM, "made-up"))
    assert Transaction.objects.count() == 0
    assert not ReportingEvent.objects.filter(kind=ReportingEvent.Kind.PURCHASE_CREDITED).exists()
    failed = InboundEvent.objects.exclude(error="")
    assert failed.count() == 2 and all(e.processed_at is None for e in failed)


def test_a_paid_invoice_is_one_sale_per_charge_id_and_credits_its_message(client, bot,
                                                                         django_capture_on_commit_callbacks):
    conversation = started(client, bot, django_capture_on_commit_callbacks)
    message = paid_message(conversation, bot.desk.chatter, stars=40, key="inv-1")
    bot.post(client, django_capture_on_commit_callbacks, bot.updates.paid(SAM, "key:inv-1", 40, "tg-charge-1"),
             bot.updates.paid(SAM, "key:inv-1", 40, "tg-charge-1"))
    sale = Transaction.objects.get()
    assert (sale.external_id, sale.gross_minor, sale.currency) == ("tg-charge-1", 40, "XTR")
    message.refresh_from_db()
    assert message.transaction == sale
    assert ReportingEvent.objects.filter(kind=ReportingEvent.Kind.PURCHASE_CREDITED).count() == 1
    # The payment's service message is not a fan's words: the thread holds /start and the paid message.
    assert Message.objects.filter(direction=Message.Direction.IN).count() == 1


def test_checkout_is_answered_yes_only_for_what_was_offered_to_that_fan(client, bot,
                                                                        django_capture_on_commit_callbacks):
    conversation = started(client, bot, django_capture_on_commit_callbacks)
    started(client, bot, django_capture_on_commit_callbacks, user=ALEX)
    paid_message(conversation, bot.desk.chatter, stars=40, key="inv-1")
    bot.post(client, django_capture_on_commit_callbacks,
             bot.updates.pre_checkout(SAM, "key:inv-1", 40),
             bot.updates.pre_checkout(SAM, "key:inv-1", 1),  # a different price
             bot.updates.pre_checkout(ALEX, "key:inv-1", 40),  # another fan
             bot.updates.pre_checkout(SAM, "no-such-offer", 40),
             bot.updates.pre_checkout(SAM, "key:inv-1", 40, currency="USD"))
    answers = [a["ok"] for a in bot.api.checkout_answers]
    assert answers == [True, False, False, False, False]
    assert all(a.get("error_message") for a in bot.api.checkout_answers[1:])
    bot.post(client, django_capture_on_commit_callbacks, bot.updates.paid(SAM, "key:inv-1", 40, "tg-charge-2"),
             bot.updates.pre_checkout(SAM, "key:inv-1", 40))
    assert bot.api.checkout_answers[-1]["ok"] is False  # bought already


def test_paysupport_is_answered_by_the_bot_and_recorded_as_the_platforms_message(
        client, bot, django_capture_on_commit_callbacks):
    started(client, bot, django_capture_on_commit_callbacks)
    ask = bot.updates.message(SAM, "/paysupport")
    bot.post(client, django_capture_on_commit_callbacks, ask, ask)

    (notice,) = [m for m in bot.api.sent_to(SAM["id"]) if m.get("text")]
    assert notice["text"] == PAYSUPPORT_TEXT
    reply = Message.objects.get(direction=Message.Direction.OUT)
    assert (reply.origin, reply.send_status, reply.text, reply.sent_by) == ("platform", "sent", PAYSUPPORT_TEXT,
                                                                            None)
    assert reply.external_id == f"{SAM['id']}:{notice['message_id']}"
    asked = Message.objects.get(text="/paysupport")
    assert asked.direction == Message.Direction.IN
    assert Conversation.objects.get().waiting_since is not None  # a person still follows up


def test_paysupport_to_a_fan_who_blocked_the_bot_stays_waiting_for_a_person(client, bot,
                                                                           django_capture_on_commit_callbacks):
    started(client, bot, django_capture_on_commit_callbacks)
    bot.api.blocked.add(str(SAM["id"]))
    bot.post(client, django_capture_on_commit_callbacks, bot.updates.message(SAM, "/paysupport@luna_bot"))
    assert Message.objects.filter(text="/paysupport@luna_bot", direction=Message.Direction.IN).exists()
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()


def test_credit_purchase_counts_a_sale_once_and_a_message_once(client, bot, django_capture_on_commit_callbacks):
    conversation = started(client, bot, django_capture_on_commit_callbacks)
    first, second = (paid_message(conversation, bot.desk.chatter, key=k) for k in ("a", "b"))
    sale = Transaction.objects.create(creator=bot.desk.creator, platform="telegram", kind="paid_message",
                                      gross_minor=250, fee_minor=0, net_minor=250, currency="XTR",
                                      occurred_at=timezone.now(), external_id="s-1", source="webhook")
    other = Transaction.objects.create(creator=bot.desk.creator, platform="telegram", kind="paid_message",
                                       gross_minor=250, fee_minor=0, net_minor=250, currency="XTR",
                                       occurred_at=timezone.now(), external_id="s-2", source="webhook")
    assert services.credit_purchase(first, sale) is True
    assert services.credit_purchase(first, sale) is False
    assert services.credit_purchase(second, sale) is False  # one sale never credits two messages
    assert services.credit_purchase(first, other) is False  # nor one message two sales
    assert ReportingEvent.objects.filter(kind=ReportingEvent.Kind.PURCHASE_CREDITED).count() == 1
    second.refresh_from_db()
    assert second.transaction is None and second.purchased_at is None


def test_the_payload_telegram_hands_back_is_the_one_the_channel_sent(client, bot, tmp_path,
                                                                     django_capture_on_commit_callbacks):
    conversation = started(client, bot, django_capture_on_commit_callbacks)
    by_id = paid_message(conversation, bot.desk.chatter, key="msg:1")  # a client's key that looks like an id
    by_key = paid_message(conversation, bot.desk.chatter, key="client-key-7")
    photo = tmp_path / "p.jpg"
    Image.new("RGB", (20, 20), (1, 2, 3)).save(photo, "JPEG")
    media = (MediaItem(path=str(photo), mime="image/jpeg", size=photo.stat().st_size),)
    ref = account_ref(bot.desk.telegram, purpose="test")
    for message, options in ((by_id, {"message_id": by_id.pk}), (by_key, {})):
        TelegramChannel().send(SendRequest(
            idempotency_key=message.idempotency_key, account=ref, chat_id=conversation.external_id,
            fan_id=conversation.fan.external_id, text="", media=media, price_minor=250, currency="XTR",
            options=options))
    payloads = [m["payload"] for m in bot.api.sent_to(SAM["id"]) if "paid_media" in m]
    assert payloads == [f"msg:{by_id.pk}", "key:client-key-7"]
    bot.post(client, django_capture_on_commit_callbacks, *(bot.updates.paid_media_bought(SAM, p) for p in payloads))
    for message in (by_id, by_key):
        message.refresh_from_db()
        assert message.transaction is not None
    assert Transaction.objects.count() == 2
