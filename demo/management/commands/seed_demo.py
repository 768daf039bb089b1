"""Demo data for a first look: an owner, one staff member per role, three creators.

Idempotent: running it again changes nothing but makes sure the demo login works. The demo
password is random per machine (kept in var/demo-login.txt), so no credential lives in the repo.
"""

from __future__ import annotations

import io
import secrets
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image, ImageDraw

from accounts import services
from accounts.models import Creator, Role, User
from compliance import services as compliance
from compliance.models import CreatorPerformer, Performer
from content import services as content
from content import studio
from content.models import CaptionTemplate, GenerationBackend, HashtagSet, PromptCategory, PromptTemplate
from inbox import services as inbox
from inbox.channels.base import InboundMessage
from inbox.models import Script, Shift
from scheduling import services as scheduling
from scheduling.models import PlatformAccount, Post, QueueSlot

CREATORS = [
    ("Luna Vale", Creator.Kind.HUMAN, "Europe/Paris", "fr"),
    ("Nova Synth", Creator.Kind.AI_PERSONA, "America/Los_Angeles", "en"),
    ("Iris Blend", Creator.Kind.HYBRID, "Europe/London", "en"),
]
STAFF = [
    ("mara", "Mara", Role.MANAGER, ["Luna Vale", "Nova Synth"]),
    ("eli", "Eli", Role.EDITOR, ["Luna Vale", "Nova Synth", "Iris Blend"]),
    ("chad", "Chad", Role.CHATTER, ["Luna Vale"]),
    ("cora", "Cora", Role.COMPLIANCE, ["Luna Vale", "Nova Synth", "Iris Blend"]),
    ("ana", "Ana", Role.ANALYST, ["Luna Vale", "Nova Synth", "Iris Blend"]),
    ("ivy", "Ivy", Role.MANAGER, ["Iris Blend"]),
]


def demo_password() -> str:
    path = Path(settings.VAR_DIR) / "demo-login.txt"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


class Command(BaseCommand):
    help = "Load demo data (idempotent) and print the admin login."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        password = demo_password()
        owner, _ = User.objects.get_or_create(username="owner", defaults={"first_name": "Agency owner"})
        owner.is_staff = owner.is_superuser = True
        owner.set_password(password)
        owner.save()
        creators = {}
        for name, kind, tz, language in CREATORS:
            creator = Creator.objects.filter(stage_name=name).first()
            if creator is None:
                creator = services.create_creator(stage_name=name, kind=kind, timezone_name=tz, language=language,
                                                  status=Creator.Status.ACTIVE, actor=owner)
            creators[name] = creator
        for username, first_name, role, names in STAFF:
            user, _ = User.objects.get_or_create(username=username, defaults={"first_name": first_name})
            user.is_staff = True
            user.set_password(password)
            user.save()
            for name in names:
                services.add_membership(user=user, creator=creators[name], role=role, actor=owner)
        performers = self._seed_compliance(creators, owner)
        self._seed_scheduling(creators, owner)
        self._seed_studio(creators, owner)
        self._seed_inbox(creators)
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready: {len(creators)} creators, {len(STAFF)} staff, {performers} performers.\n"
            f"  Admin:    http://127.0.0.1:8000/admin/\n"
            f"  Login:    owner / {password}   (staff: {', '.join(s[0] for s in STAFF)} — same password)"
        ))

    def _seed_compliance(self, creators: dict[str, Creator], owner: User) -> int:
        """Two fictional performers with specimen documents: the human creator and a likeness source."""
        def specimen(text: str) -> bytes:
            image = Image.new("RGB", (640, 400), (230, 230, 236))
            ImageDraw.Draw(image).text((24, 24), f"SPECIMEN — {text}", fill=(90, 90, 110))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=80)
            return buffer.getvalue()

        people = [
            ("Jeanne Exemple", date(1996, 4, 12), "FR", "Luna Vale", CreatorPerformer.Relation.SELF,
             ["fanvue", "onlyfans", "x", "reddit", "telegram", "bluesky", "instagram"], "explicit"),
            ("Olivia Sample", date(1993, 9, 30), "GB", "Iris Blend", CreatorPerformer.Relation.LIKENESS,
             ["fanvue", "x", "instagram"], "suggestive"),
        ]
        signed = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
        for legal, dob, country, creator_name, relation, platforms, rating in people:
            if Performer.objects.filter(legal_name=legal).exists():
                continue
            performer = compliance.create_performer(
                legal_name=legal, date_of_birth=dob, country=country, creators=[creators[creator_name]],
                relation=relation, other_names=[(creator_name, "stage")], actor=owner)
            compliance.record_verification(
                performer=performer, document_kind="passport", result="approved", actor=owner,
                document_number="DEMO-000000", document_country=country, document_expiry=date(2031, 1, 1),
                front=specimen(f"{legal} passport"), selfie=specimen(f"{legal} selfie"))
            uses = ["publication", "promotion_on_social"]
            if relation == CreatorPerformer.Relation.LIKENESS:
                uses.append("ai_likeness")
            compliance.record_consent(
                performer=performer, platforms=platforms, max_rating=rating, uses=uses, signed_at=signed,
                valid_until=signed + timedelta(days=365 * 2), release=specimen(f"{legal} release"), actor=owner)
        return Performer.objects.count()

    def _seed_scheduling(self, creators: dict[str, Creator], owner: User) -> None:
        """Luna's accounts, queue slots and a week of posts so the calendar has something to show.

        Fanvue and X start as "needs re-authorisation" until someone connects them (OAuth); the
        OnlyFans account is a manual export, which works without any platform credentials.
        """
        luna = creators["Luna Vale"]
        if Post.objects.filter(creator=luna).exists():
            return
        eli, mara = User.objects.get(username="eli"), User.objects.get(username="mara")
        state = PlatformAccount.State
        accounts = [
            # Never authorised on the platform: not connected until someone connects them.
            PlatformAccount.objects.create(creator=luna, platform="fanvue", handle="lunavale",
                                           state=state.NOT_CONNECTED),
            PlatformAccount.objects.create(creator=luna, platform="x", handle="lunavale", state=state.NOT_CONNECTED),
            PlatformAccount.objects.create(creator=luna, platform="manual", target_platform="onlyfans",
                                           handle="lunavale_of", state=scheduling.initial_state("manual")),
        ]
        for account in accounts:
            for weekday in (0, 2, 4):
                QueueSlot.objects.create(account=account, weekday=weekday, time=time(20, 30))
        jeanne = Performer.objects.get(legal_name="Jeanne Exemple")
        tz = luna.tzinfo
        today = datetime.now(tz).date()
        for day in range(1, 8):
            image = Image.new("RGB", (1200, 1500), (40 + day * 20, 30, 60 + day * 10))
            ImageDraw.Draw(image).text((60, 60), f"Luna Vale — demo set {day}", fill=(240, 220, 230))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=85)
            buffer.seek(0)
            asset = content.ingest(creator=luna, source=buffer, filename=f"demo-set-{day}.jpg", actor=eli,
                                   rating="suggestive", title=f"Demo set {day}", performers=[jeanne],
                                   production_date=today - timedelta(days=30)).asset
            content.submit_for_review(asset, actor=eli)
            content.approve(asset, actor=mara)
            targets = [(accounts[2], "")] if day % 2 else [(a, "") for a in accounts]
            post = scheduling.create_post(creator_id=luna.pk, caption=f"Demo set {day} is out — link in bio",
                                          asset_ids=[asset.pk], targets=targets, actor=eli)
            scheduling.approve_post(post, actor=mara)
            at = scheduling.local_datetime(luna.timezone, today + timedelta(days=day), time(20, 30))
            for pub in post.publications.all():
                scheduling.schedule(pub, at=at, actor=mara)

    def _seed_studio(self, creators: dict[str, Creator], owner: User) -> None:
        """Nova Synth's prompt templates and the agency's caption patterns. The ComfyUI backend points at
        its usual local port and starts switched off: enable it once a ComfyUI runs there and
        OUTBOUND_ALLOWED_NETWORKS=127.0.0.1/32 lets the server call this machine. Captions work without
        any model, from templates."""
        nova = creators["Nova Synth"]
        if PromptTemplate.objects.filter(creator=nova).exists():
            return
        categories = {name: PromptCategory.objects.get_or_create(name=name, defaults={"position": i})[0]
                      for i, name in enumerate(["Social teasers", "Lifestyle", "Subscriber sets"])}
        backend = GenerationBackend.objects.filter(name="Local ComfyUI").first()
        if backend is None:
            backend = studio.save_backend(GenerationBackend(
                name="Local ComfyUI", kind="comfyui", purpose="images", base_url="http://127.0.0.1:8188",
                model="sd_xl_base_1.0.safetensors", enabled=False, is_default=True, max_concurrency=1,
                cost_per_hour_minor=90), actor=owner)
        style = "cinematic photo, soft rim light, 50mm, shallow depth of field, natural skin texture"
        negative = "blurry, lowres, extra fingers, watermark, text"
        for name, category, rating, prompt in [
            ("Neon city teaser", "Social teasers", "sfw", "Nova Synth, an adult woman with silver hair, in a {outfit} "
             "on a rooftop at night, neon city behind her"),
            ("Morning coffee", "Lifestyle", "sfw", "Nova Synth, an adult woman with silver hair, drinking coffee "
             "by a window, {mood} morning light"),
            ("Boudoir set", "Subscriber sets", "suggestive", "Nova Synth, an adult woman with silver hair, boudoir "
             "portrait in {place}, elegant lingerie"),
        ]:
            PromptTemplate.objects.create(creator=nova, category=categories[category], name=name, rating=rating,
                                          prompt=prompt, style=style, negative_prompt=negative, width=832,
                                          height=1216, steps=28, count=2, backend=backend,
                                          voice_guide="playful, confident, a little mysterious; emojis sparingly")
        CaptionTemplate.objects.create(creator=nova, language="en", tones="playful, bold",
                                       text="Nova here, fresh from the render queue: {topic}. {cta}")
        HashtagSet.objects.create(creator=None, name="Night city", match="neon, city, night",
                                  tags="#NeonNights #CityLights")

    def _seed_inbox(self, creators: dict[str, Creator]) -> None:
        """Luna's fan inbox: a few fans who wrote on Fanvue, her saved replies, and Chad on shift today.

        The messages arrive the way a platform's would (`inbox.services.receive`); nothing is sent, since the
        demo accounts are not connected to any platform."""
        luna = creators["Luna Vale"]
        if Script.objects.filter(creator=luna).exists():
            return
        account = PlatformAccount.objects.filter(creator=luna, platform="fanvue").first()
        if account is None:
            return
        for name, category, text, price in [
            ("Thank you", "Welcome", "Thank you {fan_name}, so happy you're here!", None),
            ("New set", "Pay-per-view", "A new set just landed, {fan_name}: want the first look?", 900),
            ("Good night", "Small talk", "Sleep well {fan_name}, talk tomorrow?", None),
        ]:
            Script.objects.create(creator=luna, name=name, category=category, text=text, price_minor=price,
                                  currency="USD")
        now = datetime.now(UTC)
        chad = User.objects.get(username="chad")
        Shift.objects.create(creator=luna, chatter=chad, starts_at=now.replace(minute=0, second=0, microsecond=0),
                             ends_at=now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=8),
                             note="Demo shift")
        for n, (fan, handle, lines) in enumerate([
            ("demo-fan-1", "sam_r", ["Hi Luna! Loved the last set", "Any new pics tonight?"]),
            ("demo-fan-2", "jules", ["Hey, how was your weekend?"]),
            ("demo-fan-3", "max.k", ["Do you do custom requests?", "Happy to tip for it"]),
        ]):
            for i, text in enumerate(lines):
                inbox.receive(account, InboundMessage(
                    external_id=f"demo-{fan}-{i}", chat_id="", fan_id=fan, fan_handle=handle, text=text,
                    sent_at=now - timedelta(minutes=90 - n * 25 - i * 4)))
