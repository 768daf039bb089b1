"""Compliance fixtures: a private storage of the test's own, a fresh key ring, and the performers and
records of two creators that the admin, records and API tests share."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from accounts import services as account_services
from accounts.models import User
from compliance.models import ConsentRecord, IdentityVerification, Performer, TakedownRequest
from tests.accounts.factories import ApiKeyFactory
from tests.compliance import factories


def stored_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def keyring(settings):
    """One fresh primary key; tests prepend or drop keys through `settings`."""
    settings.ATELIER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return settings


@pytest.fixture
def private_dir(settings, tmp_path) -> Path:
    """The private storage in a folder of its own, so a test can see every byte written."""
    root = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(root), "base_url": None}},
    }
    return root


# --- Shared records: two creators' performers, built through the services ---------------------------
# oscar is the compliance officer of A, `key_a` the owner's read-only key over A. Amelie (A) is verified
# and consenting and named in a takedown; Bianca (B) is verified. Tests ask only for the records they use.

@pytest.fixture
def private_location(settings, tmp_path) -> Path:
    """Documents encrypted with the suite's key, stored under this test's folder."""
    return factories.use_private_storage(settings, tmp_path)


@pytest.fixture
def oscar(people) -> User:
    """The compliance officer of creator A."""
    return factories.make_officer("oscar", people["a"])


@pytest.fixture
def key_a(people) -> str:
    """The owner's read-only API key over creator A: the secret, as shown once."""
    return ApiKeyFactory(owner=people["owner"], name="warehouse", creators=[people["a"]]).raw


@pytest.fixture
def officer_b(people) -> User:
    """charlie, manager of B, holding B's compliance role too."""
    account_services.add_membership(user=people["charlie"], creator=people["b"], role="compliance")
    return people["charlie"]


@pytest.fixture
def performer_a(people, private_location) -> Performer:
    """Amelie Durand of creator A, with a stage name, two aliases that share a word and a former legal name."""
    return factories.PerformerFactory(legal_name="Amelie Durand", creators=[people["a"]], email="amelie@mail.test",
                                      phone="+33 6 00", notes="Prefers morning shoots.",
                                      other_names=[("Lune Rousse", "stage"), ("Mimi", "alias"), ("Mimi D", "alias"),
                                                   ("Amelie Petit", "former_legal")])


@pytest.fixture
def verification_a(performer_a) -> IdentityVerification:
    """Amelie's approved passport, front and back."""
    return factories.VerificationFactory(performer=performer_a, front=factories.FRONT_A, back=factories.BACK_A,
                                         document_number="FR12345678")


@pytest.fixture
def selfie_verification_a(performer_a) -> IdentityVerification:
    """Amelie's approved passport checked against a selfie."""
    return factories.VerificationFactory(performer=performer_a, front=factories.FRONT_A, selfie=factories.SELFIE_A,
                                         document_number="FR-APPROVED-1")


@pytest.fixture
def rejected_verification_a(performer_a) -> IdentityVerification:
    """A check of Amelie's that failed, with both sides of the document and the provider's reason."""
    return factories.VerificationFactory(performer=performer_a, result="rejected", front=factories.REJECTED_FRONT_A,
                                         back=factories.REJECTED_BACK_A, document_number="FR-BLURRY-0",
                                         provider_reason="Photo too blurry to read.")


@pytest.fixture
def consent_a(performer_a) -> ConsentRecord:
    return factories.ConsentFactory(performer=performer_a)


@pytest.fixture
def takedown_a(people, performer_a) -> TakedownRequest:
    return factories.TakedownFactory(creator=people["a"], performers=[performer_a])


@pytest.fixture
def performer_b(people, private_location) -> Performer:
    """Bianca Rossi of creator B, verified."""
    performer = factories.PerformerFactory(legal_name="Bianca Rossi", creators=[people["b"]],
                                           other_names=[("Stella Nera", "stage")])
    factories.VerificationFactory(performer=performer)
    return performer


@pytest.fixture
def verification_b(performer_b) -> IdentityVerification:
    return performer_b.verifications.get()


@pytest.fixture
def consent_b(performer_b) -> ConsentRecord:
    return factories.ConsentFactory(performer=performer_b)


@pytest.fixture
def takedown_b(people, performer_b) -> TakedownRequest:
    return factories.TakedownFactory(creator=people["b"], performers=[performer_b], requester_name="Someone Else")
