"""Factories for the compliance models, built through the services staff use.

Going through `compliance.services` means test data carries what real data carries: encrypted
documents in the private storage, the legal name among the performer's names, audit events.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import factory
from cryptography.fernet import Fernet
from django.utils import timezone

from accounts import services as account_services
from compliance import services
from compliance.models import ConsentRecord, IdentityVerification, Performer, TakedownRequest
from tests.factories import UserFactory

# One fixed key for the whole suite run, so documents stored by one fixture open in the next.
TEST_ENCRYPTION_KEY = Fernet.generate_key().decode()


def jpeg(label: str = "document") -> bytes:
    """A small JPEG-looking payload; unique per label so digests tell documents apart."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + f"{label}:".encode() + b"\x00\x11" * 64 + b"\xff\xd9"


# The documents of Amelie, the performer of creator A in the shared compliance fixtures (conftest.py).
FRONT_A = jpeg("front-amelie")
BACK_A = jpeg("back-amelie")
SELFIE_A = jpeg("selfie-amelie")
REJECTED_FRONT_A = jpeg("rejected-front")
REJECTED_BACK_A = jpeg("rejected-back")


def pdf(label: str = "release") -> bytes:
    return b"%PDF-1.7\n" + f"% {label}\n".encode() + b"1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def use_private_storage(settings: Any, root: Path) -> Path:
    """Encrypt with a known key and keep documents under `root`, away from other tests' files."""
    settings.ATELIER_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY]
    location = root / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(location), "base_url": None}},
    }
    return location


def make_officer(username: str, creator: Any) -> Any:
    """A compliance officer of `creator` (a staff user with the compliance role there)."""
    user = UserFactory(username=username)
    account_services.add_membership(user=user, creator=creator, role="compliance")
    return user


class PerformerFactory(factory.Factory):
    class Meta:
        model = Performer

    legal_name = factory.Sequence(lambda n: f"Performer Legal {n}")
    date_of_birth = date(1996, 4, 12)
    creators = ()
    other_names = ()
    email = factory.LazyAttribute(lambda p: f"{p.legal_name.lower().replace(' ', '.')}@mail.test")
    phone = "+33 6 12 34 56 78"
    notes = "Met at the spring casting."
    country = "FR"

    @classmethod
    def _create(cls, model_class: type[Performer], *args: Any, **kwargs: Any) -> Performer:
        return services.create_performer(**kwargs)


class VerificationFactory(factory.Factory):
    class Meta:
        model = IdentityVerification

    performer = factory.SubFactory(PerformerFactory)
    document_kind = IdentityVerification.DocumentKind.PASSPORT
    result = IdentityVerification.Result.APPROVED
    actor = None
    document_number = factory.Sequence(lambda n: f"P{n:08d}")
    document_country = "FR"
    document_expiry = date(2031, 1, 31)
    front = factory.LazyAttribute(lambda v: jpeg(f"front-{v.document_number}"))
    back = None
    selfie = None

    @classmethod
    def _create(cls, model_class: type[IdentityVerification], *args: Any, **kwargs: Any) -> IdentityVerification:
        return services.record_verification(**kwargs)


class ConsentFactory(factory.Factory):
    class Meta:
        model = ConsentRecord

    performer = factory.SubFactory(PerformerFactory)
    platforms = ("fanvue", "x")
    max_rating = "explicit"
    uses = ("publication", "promotion_on_social")
    signed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    valid_from = None
    valid_until = None
    release = factory.LazyFunction(pdf)
    actor = None

    @classmethod
    def _create(cls, model_class: type[ConsentRecord], *args: Any, **kwargs: Any) -> ConsentRecord:
        kwargs["platforms"], kwargs["uses"] = list(kwargs["platforms"]), list(kwargs["uses"])
        return services.record_consent(**kwargs)


class TakedownFactory(factory.Factory):
    class Meta:
        model = TakedownRequest

    kind = TakedownRequest.Kind.TAKE_IT_DOWN
    creator = None
    performers = ()
    requester_name = "Jordan Requester"
    requester_contact = "jordan@requests.test"
    signature = "/Jordan Requester/"
    content_description = "A photo set posted without permission."
    content_locations = "https://example.test/post/1"
    non_consent_statement = "I did not consent to this depiction being published."
    received_at = None
    actor = None

    @classmethod
    def _create(cls, model_class: type[TakedownRequest], *args: Any, **kwargs: Any) -> TakedownRequest:
        return services.open_takedown(**kwargs)
