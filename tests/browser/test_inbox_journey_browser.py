"""It must show (issue 17): with `make run` and the Fanvue and Telegram fakes, a fan's message arrives by
webhook and appears in the chatter's inbox without a reload; the chatter sends a PPV from the vault; the
fan's purchase webhook credits that chatter; the fan panel and the chatter metrics show it. On the way: a
fan who says they are a minor is held for compliance on screen, and a Telegram fan who pressed Start shows
up in the list. Driven in Chromium against the real web, worker and beat; screenshots in test-artifacts/.

One `make run` start for the whole journey (CI is near its time limit). The platforms are local servers
speaking the wire formats (tests/inbox/fanvue_fake.py, telegram_fake.py); webhooks are signed and posted to
the running server the way Fanvue and Telegram post them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS
from tests.inbox.fanvue_fake import SELF_UUID, FakeFanvueChats, iso
from tests.inbox.telegram_fake import FakeBotApi, Updates
from tests.make_run import make_run
from tests.scheduling.fakes.base import serve

ROOT = Path(__file__).resolve().parents[2]
LIVE_MS = 2000  # the promise: on screen within 2 s of the worker recording it, without a reload
FAN = "5939ae62-3eb5-4433-954f-f78c7b4282f3"  # the fan who buys
KID = "7d1e2f30-4a5b-4c6d-8e9f-0a1b2c3d4e5f"  # the fan whose words signal a minor
SECRET = "whsec-e2e-0123456789abcdef"  # what Fanvue's developer area would show as the signing secret
PRICE = 999  # cents

SETUP = """
import hashlib, io, json
from datetime import date, timedelta
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from accounts.models import Creator, User
from analytics import ingest
from compliance import services as compliance
from content.models import Asset
from scheduling import services
from scheduling.models import PlatformAccount

owner = User.objects.get(username="owner")
luna = Creator.objects.get(stage_name="Luna Vale")
# The demo's Fanvue account, connected (the fake's token) with the chat scopes, and its webhook receiver.
fanvue = PlatformAccount.objects.get(creator=luna, platform="fanvue")
fanvue.state = "connected"
fanvue.scopes = "openid offline_access read:self read:chat write:chat read:fan write:media read:media"
fanvue = services.save_account(fanvue, actor=owner)
services.store_credentials(fanvue, {"access_token": "fv-access-1", "refresh_token": "fv-refresh-1"},
                           expires_at=timezone.now() + timedelta(days=1))
fv_receiver, _ = ingest.create_receiver(fanvue, secret=SECRET, actor=owner)
# Luna's Telegram bot, connected, with its receiver (the secret Telegram sends back in its header).
telegram = services.save_account(PlatformAccount(state="connected", creator=luna, platform="telegram",
                                                 handle="luna_bot"), actor=owner)
services.store_credentials(telegram, {"bot_token": BOT_TOKEN})
tg_receiver, tg_secret = ingest.create_receiver(telegram, actor=owner)
# An approved asset of the demo vault: Jeanne Exemple, verified, consenting to Fanvue.
asset = Asset.objects.get(creator=luna, title="Demo set 1")
# And an approved asset of a performer who never signed a release: it must never reach a fan.
stranger = compliance.create_performer(legal_name="Nobody Asked", date_of_birth=date(1994, 5, 6), creators=[luna],
                                       actor=owner)
buffer = io.BytesIO()
Image.new("RGB", (64, 48), (90, 60, 120)).save(buffer, "JPEG")
unsigned = Asset(creator=luna, kind="image", mime="image/jpeg", sha256=hashlib.sha256(buffer.getvalue()).hexdigest(),
                 size_bytes=len(buffer.getvalue()), rating="suggestive", status=Asset.Status.APPROVED,
                 production_date=date(2026, 2, 1), title="Unsigned set")
unsigned.file.save("unsigned-set.jpg", ContentFile(buffer.getvalue()), save=True)
unsigned.performers.add(stranger)
print(json.dumps({"fanvue": fv_receiver.token, "telegram": tg_receiver.token, "tg_secret": tg_secret,
                  "asset": asset.pk, "unsigned": unsigned.pk}))
"""

PROBE = """
import json
from analytics.models import InboundEvent
from inbox.models import Message, ReportingEvent
from notifications.models import NotificationReceipt
msg = Message.objects.get(external_id=MESSAGE_UUID)
event = InboundEvent.objects.filter(account=msg.account, payload__messageUuid=MESSAGE_UUID).first()
ppv = Message.objects.filter(direction="out", price_minor=PRICE, conversation__fan__external_id=FAN).first()
credit = ReportingEvent.objects.filter(kind="purchase_credited", message=ppv).first()
print(json.dumps({"recorded_at": msg.created_at.timestamp(),
                  "processed_at": event.processed_at.timestamp() if event and event.processed_at else None,
                  "ppv": {"status": ppv.send_status, "by": ppv.sent_by.username, "external_id": ppv.external_id,
                          "purchased": ppv.purchased_at is not None, "assets": ppv.assets.count()} if ppv else None,
                  "credit": {"chatter": credit.chatter.username, "amount": credit.amount_minor,
                             "shift": credit.shift_id is not None} if credit else None,
                  "held_told": sorted(NotificationReceipt.objects.filter(notification__kind="inbox.conversation.held")
                                      .values_list("user__username", flat=True))}))
"""


def signed_post(url: str, payload: dict[str, Any], *, event: str, secret: str = SECRET) -> dict[str, Any]:
    """POST a Fanvue webhook: `X-Fanvue-Signature: t=<unix>,v0=HMAC-SHA256(secret, "{t}.{body}")`."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Fanvue-Signature": f"t={t},v0={mac}", "X-Fanvue-Event": event})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def telegram_post(url: str, update: dict[str, Any], secret: str) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def message_received(message: dict[str, Any], *, name: str) -> dict[str, Any]:
    """Fanvue's Message Received payload for a message the fake platform holds."""
    sender = message["sender"]
    return {"messageUuid": message["uuid"], "recipientUuid": SELF_UUID, "timestamp": iso(datetime.now(UTC)),
            "message": {"uuid": message["uuid"], "text": message["text"], "hasMedia": False, "mediaUuids": [],
                        "price": None, "createdAt": message["sentAt"]},
            "sender": {"uuid": sender["uuid"], "handle": sender["handle"], "displayName": name}}


def purchase_received(message_uuid: str, *, transaction: str) -> dict[str, Any]:
    """Fanvue's Purchase Received for a message: the buyer, the price in cents, the message's uuid."""
    return {"messageUuid": message_uuid, "price": PRICE, "purchaseType": "message",
            "recipientUuid": SELF_UUID, "senderUuid": FAN, "transactionId": transaction,
            "sender": {"uuid": FAN, "handle": "sam_fv", "displayName": "Sam"},
            "timestamp": iso(datetime.now(UTC))}


def wait_until(what: str, check: Any, timeout: float, proc: subprocess.Popen, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        assert proc.poll() is None, "make run exited early"
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting until {what}")


def login(browser: Any, base: str, username: str, password: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(f"{base}/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    return page


def shell(script: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# Seen-at clock in the page: when a text first shows up in the thread (Date.now(), the machine's clock, the
# same one the worker stamps the message with).
WATCH = """text => { window.__seen = window.__seen || {};
  const look = () => { if (!window.__seen[text] && document.body.innerText.includes(text)) {
    window.__seen[text] = Date.now() / 1000; } };
  new MutationObserver(look).observe(document.body, {childList: true, subtree: true, characterData: true});
  look(); }"""


@pytest.mark.e2e
@pytest.mark.worker
@pytest.mark.browser
@pytest.mark.timeout(480)
def test_a_fan_message_a_ppv_from_the_vault_and_its_purchase_credited_through_make_run(tmp_path, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(FakeFanvueChats()) as fanvue, serve(FakeBotApi()) as bot, \
            make_run(tmp_path, leave_out=("SCHEDULING_CONNECTORS", "DJANGO_ALLOW_ASYNC_UNSAFE"),  # the browser's
                     FANVUE_API_URL=fanvue.url, FANVUE_WEB_URL=fanvue.url, FANVUE_MEDIA_POLL_SECONDS="1",
                     TELEGRAM_API_URL=bot.url) as run:
        base, proc, log = run.base, run.proc, run.log
        menv = {**run.env, "DEBUG": "1"}
        mine: list[Any] = []
        try:
            run.wait_until_serving("/health/")
            world = shell(SETUP.replace("SECRET", repr(SECRET)).replace("BOT_TOKEN", repr(FakeBotApi.TOKEN)), menv)
            password = (run.var / "demo-login.txt").read_text().strip()

            chad = login(browser, base, "chad", password)
            mine.append(chad.context)
            errors: list[str] = []
            chad.on("pageerror", lambda e: errors.append(str(e)))
            chad.goto(f"{base}/admin/inbox/")
            chad.wait_for_selector("[data-testid=inbox-screen]")
            chad.evaluate("window.__sameDocument = true")

            # Sam writes on Fanvue; so does a fan who says they are 15; a Telegram fan presses Start.
            hello = fanvue.fan_writes(FAN, "Hi Luna, anything new tonight?", handle="sam_fv")
            kid = fanvue.fan_writes(KID, "hey luna I'm 15, can we chat?", handle="kiddo")
            chad.evaluate(WATCH, hello["text"])
            hook = f"{base}/hooks/fanvue/{world['fanvue']}/"
            assert signed_post(hook, message_received(hello, name="Sam"),
                               event="message.received")["status"] == "accepted"
            assert signed_post(hook, message_received(kid, name="Kiddo"),
                               event="message.received")["status"] == "accepted"
            updates = Updates()
            start = updates.message(updates.user(424242, username="tg_tom", first_name="Tom"), "/start")
            assert telegram_post(f"{base}/hooks/telegram/{world['telegram']}/", start,
                                 world["tg_secret"])["status"] == "accepted"

            # The list gains Sam's conversation without a reload (the worker processed the webhook).
            row = chad.locator("[data-testid=inbox-row]", has_text="sam_fv")
            row.wait_for(timeout=60000)
            assert chad.evaluate("window.__sameDocument === true"), "the page reloaded"
            seen_at = chad.evaluate("t => window.__seen[t]", hello["text"])
            chad.locator("[data-testid=inbox-row]", has_text="tg_tom").wait_for(timeout=30000)
            row.locator("a").first.click()
            chad.wait_for_selector("[data-testid=inbox-message]:has-text('anything new tonight')")
            # Luna is a human creator: a person writes every reply, nothing goes out on its own.
            assert "A person writes every reply" in chad.locator(".ib-thread-head").inner_text()
            chad.screenshot(path=str(ARTIFACTS / "inbox-message.png"), full_page=True)

            # The vault offers the consented asset, never the unsigned one; a forged form naming it is refused.
            vault = chad.locator("[data-testid=inbox-vault-asset]")
            offered = {vault.nth(i).get_attribute("value") for i in range(vault.count())}
            assert str(world["asset"]) in offered and str(world["unsigned"]) not in offered, offered
            chad.fill("[data-testid=inbox-text]", "A peek for you")
            chad.evaluate("""id => { const box = document.createElement('input'); box.type = 'checkbox';
                box.name = 'assets'; box.value = id; box.checked = true;
                document.getElementById('inbox-compose').appendChild(box); }""", str(world["unsigned"]))
            chad.click("[data-testid=inbox-send]")
            chad.wait_for_selector("[data-testid=inbox-refusal]")
            assert not [m for m in fanvue.messages(FAN) if m["sender"]["uuid"] == SELF_UUID]

            # A PPV from the vault: the consented demo asset, a text and a price; the worker delivers it.
            chad.fill("[data-testid=inbox-text]", "Just for you, Sam: tonight's set")
            chad.evaluate("document.querySelector('[data-testid=inbox-vault]').open = true")
            chad.check(f"[data-testid=inbox-vault-asset][value='{world['asset']}']")
            chad.fill("[data-testid=inbox-price]", f"{PRICE / 100:.2f}")
            chad.click("[data-testid=inbox-send]")
            ppv_item = chad.locator("[data-testid=inbox-message]", has_text="Just for you, Sam")
            ppv_item.wait_for()
            sent = wait_until("the fake Fanvue received the PPV", lambda: [
                m for m in fanvue.messages(FAN) if m["sender"]["uuid"] == SELF_UUID and m["text"]
                and m["text"].startswith("Just for you")], 90, proc)
            [ppv] = sent
            assert ppv["pricing"] == {"USD": {"price": PRICE}} and len(ppv["mediaUuids"]) == 1, ppv
            assert fanvue.calls("POST", r"/media/uploads"), "the vault file was never uploaded to Fanvue"
            # The thread follows the delivery without a reload: "Sent", still locked for the fan.
            ppv_item.locator(".ib-state:text-is('Sent')").wait_for()
            assert "Locked" in ppv_item.locator("[data-testid=inbox-ppv]").inner_text()
            chad.screenshot(path=str(ARTIFACTS / "inbox-ppv-sent.png"), full_page=True)

            # Sam buys it: the purchase webhook names the message's uuid, and credits Chad.
            assert signed_post(hook, purchase_received(ppv["uuid"], transaction="e2e-sale-1"),
                               event="purchase.received")["status"] == "accepted"
            # Unlocked on screen as soon as the worker credits it; the fan panel shows the spend.
            ppv_item.locator("[data-testid=inbox-ppv]:has-text('Unlocked')").wait_for(timeout=60000)
            chad.reload()
            assert "9.99" in chad.locator("[data-testid=inbox-spend]").inner_text()
            assert "9.99" in chad.locator("[data-testid=inbox-purchases]").inner_text()
            chad.locator("[data-testid=inbox-fan]").screenshot(path=str(ARTIFACTS / "inbox-fan-panel.png"))

            # The minor's conversation is held on screen: no paid content, no AI replies.
            chad.locator("[data-testid=inbox-row]", has_text="kiddo").locator("a").first.click()
            held = chad.locator("[data-testid=inbox-held]")
            held.wait_for()
            assert "15" in held.inner_text()
            assert not errors, errors

            # Mara, Luna's manager, reads Chad's numbers: one PPV bought of one sent, $9.99 credited.
            mara = login(browser, base, "mara", password)
            mine.append(mara.context)
            mara.goto(f"{base}/admin/inbox/reportingevent/chatters/")
            chatter = mara.locator("[data-testid=chatter-row]", has_text="chad")
            assert "9.99" in chatter.inner_text() and "1 / 1" in chatter.inner_text(), chatter.inner_text()
            mara.screenshot(path=str(ARTIFACTS / "chatter-metrics.png"), full_page=True)

            facts = shell(PROBE.replace("MESSAGE_UUID", repr(hello["uuid"]))
                          .replace("PRICE", str(PRICE)).replace("FAN", repr(FAN)), menv)
        except BaseException:
            print(log.read_text(errors="replace")[-6000:])  # shown with the failure
            raise
        finally:
            for context in mine:  # this test's logins; the browser is the session's
                context.close()
    assert facts["processed_at"] is not None, facts
    # On screen within 2 s of the worker recording it (the page polls every second).
    recorded = max(facts["recorded_at"], facts["processed_at"])
    print(f"the fan's message was on screen {seen_at - recorded:.2f} s after the worker recorded it")
    assert seen_at - recorded <= LIVE_MS / 1000
    assert facts["ppv"] == {"status": "sent", "by": "chad", "external_id": ppv["uuid"], "purchased": True,
                            "assets": 1}
    assert facts["credit"] == {"chatter": "chad", "amount": PRICE, "shift": True}
    # The minor's hold told Luna's compliance officer (and her managers and the owner), once.
    assert "cora" in facts["held_told"] and len(facts["held_told"]) == len(set(facts["held_told"])), facts

