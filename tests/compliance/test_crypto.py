"""Encryption at rest: the key ring, loud failures, and key rotation end to end."""

from __future__ import annotations

import io
import threading
from datetime import date

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from accounts.models import AuditEvent
from compliance import crypto, services
from compliance.models import EncryptedFile, IdentityVerification
from tests.compliance.conftest import stored_files
from tests.scheduling.factories import PlatformAccountFactory

FRONT = b"\xff\xd8\xff\xe0" + b"PASSPORT-FRONT-MARKER-Jeanne-Exemple-1996" * 8
BACK = b"\x89PNG\r\n\x1a\n" + b"PASSPORT-BACK-MARKER-MRZ<<EXEMPLE<<JEANNE" * 8
RELEASE = b"%PDF-1.7\n" + b"MODEL-RELEASE-MARKER signed by Jeanne Exemple" * 8
NUMBER = "FR-19AB12345"


def new_key() -> str:
    return Fernet.generate_key().decode()


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out)
    return out.getvalue()


# --- the key ring -----------------------------------------------------------------------------------


def test_ciphertext_hides_the_plaintext(keyring):
    token = crypto.encrypt(FRONT)
    assert token != FRONT
    assert b"PASSPORT-FRONT-MARKER" not in token
    assert crypto.decrypt(token) == FRONT


def test_text_round_trip_and_empty_stays_empty(keyring):
    token = crypto.encrypt_text(NUMBER)
    assert NUMBER not in token
    assert crypto.decrypt_text(token) == NUMBER
    assert crypto.encrypt_text("") == "" and crypto.decrypt_text("") == ""


def test_wrong_key_raises_instead_of_returning_nothing(keyring):
    token = crypto.encrypt(FRONT)
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(token.decode())


def test_tampered_bytes_raise(keyring):
    token = bytearray(crypto.encrypt(FRONT))
    token[-5] ^= 0x01
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(bytes(token))


def test_first_key_encrypts_every_key_decrypts(keyring):
    old = keyring.ATELIER_ENCRYPTION_KEYS[0]
    old_token = crypto.encrypt(FRONT)
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key(), old]
    assert crypto.decrypt(old_token) == FRONT
    assert crypto.key_id() != crypto.key_id(old)
    new_token = crypto.encrypt(FRONT)
    keyring.ATELIER_ENCRYPTION_KEYS = [old]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(new_token)


def test_rotate_moves_a_token_under_the_primary_key(keyring):
    old = keyring.ATELIER_ENCRYPTION_KEYS[0]
    token = crypto.encrypt(FRONT)
    primary = new_key()
    keyring.ATELIER_ENCRYPTION_KEYS = [primary, old]
    rotated = crypto.rotate(token)
    keyring.ATELIER_ENCRYPTION_KEYS = [primary]
    assert crypto.decrypt(rotated) == FRONT


def test_rotate_refuses_a_token_no_key_opens(keyring):
    token = crypto.encrypt(FRONT)
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(crypto.DecryptionError):
        crypto.rotate(token)


def test_a_malformed_key_is_a_configuration_error(settings):
    settings.ATELIER_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        crypto.encrypt(b"x")


def test_keys_are_required_in_production_and_derived_on_a_laptop(settings):
    settings.ATELIER_ENCRYPTION_KEYS = []
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match="required"):
        crypto.encrypt(b"x")
    settings.DEBUG = True
    assert crypto.decrypt(crypto.encrypt(b"x")) == b"x"


def test_key_id_is_a_short_fingerprint_not_the_key(keyring):
    key = keyring.ATELIER_ENCRYPTION_KEYS[0]
    assert len(crypto.key_id()) == 12
    assert crypto.key_id() not in key
    assert crypto.key_id() == crypto.key_id(key)


# --- rotation end to end ------------------------------------------------------------------------------


@pytest.fixture
def identity(db, keyring, private_dir, people):
    """A verified performer with two document images, a document number and a signed release."""
    performer = services.create_performer(legal_name="Jeanne Exemple", date_of_birth=date(1996, 4, 12),
                                          creators=[people["a"]])
    verification = services.record_verification(
        performer=performer, document_kind="passport", result="approved", actor=people["owner"],
        document_number=NUMBER, front=FRONT, back=BACK)
    consent = services.record_consent(
        performer=performer, platforms=["fanvue"], max_rating="explicit", uses=["publication"],
        signed_at=verification.created_at, release=RELEASE, actor=people["owner"])
    return verification, consent


def read_everything(verification: IdentityVerification, consent, actor) -> tuple[bytes, bytes, bytes, str]:
    verification.refresh_from_db()
    consent.refresh_from_db()
    return (services.read_document(verification.front, actor=actor, purpose="test"),
            services.read_document(verification.back, actor=actor, purpose="test"),
            services.read_document(consent.release, actor=actor, purpose="test"),
            services.read_document_number(verification, actor=actor))


@pytest.mark.django_db
def test_rotate_then_drop_the_old_key_documents_still_read(identity, keyring, private_dir, people,
                                                           django_capture_on_commit_callbacks):
    verification, consent = identity
    old = keyring.ATELIER_ENCRYPTION_KEYS[0]
    before_files = stored_files(private_dir)
    before_number = verification.document_number_encrypted
    primary = new_key()
    keyring.ATELIER_ENCRYPTION_KEYS = [primary, old]

    with django_capture_on_commit_callbacks(execute=True):
        output = rotate()

    assert "3 re-encrypted" in output and "1 re-encrypted" in output
    assert set(EncryptedFile.objects.values_list("key_id", flat=True)) == {crypto.key_id(primary)}
    after_files = stored_files(private_dir)
    # New ciphertext under new names; the old ciphertext is gone, nothing is orphaned.
    assert set(after_files) == set(EncryptedFile.objects.values_list("storage_name", flat=True))
    assert not set(after_files) & set(before_files)
    verification.refresh_from_db()
    assert verification.document_number_encrypted not in ("", before_number, NUMBER)

    keyring.ATELIER_ENCRYPTION_KEYS = [primary]
    assert read_everything(verification, consent, people["owner"]) == (FRONT, BACK, RELEASE, NUMBER)
    event = AuditEvent.objects.get(action="encryption.rotated")
    assert event.changes["documents_rotated"] == 3
    assert event.changes["numbers_rotated"] == 1
    assert event.changes["failed"] == []
    assert event.actor_label == "command:rotate_encryption_keys"


@pytest.mark.django_db
def test_rotation_is_idempotent(identity, keyring, private_dir):
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key(), *keyring.ATELIER_ENCRYPTION_KEYS]
    rotate()
    files = stored_files(private_dir)
    numbers = list(IdentityVerification.objects.values_list("document_number_encrypted", flat=True))

    output = rotate()

    assert "0 re-encrypted, 3 already current" in output
    assert "0 re-encrypted, 1 already current" in output
    assert stored_files(private_dir) == files
    assert list(IdentityVerification.objects.values_list("document_number_encrypted", flat=True)) == numbers
    second = AuditEvent.objects.filter(action="encryption.rotated").order_by("id").last()
    assert second.changes["documents_rotated"] == 0
    assert second.changes["documents_current"] == 3
    assert AuditEvent.objects.filter(action="encryption.rotated").count() == 2


@pytest.mark.django_db
def test_dry_run_changes_nothing(identity, keyring, private_dir):
    old_id = crypto.key_id()
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key(), *keyring.ATELIER_ENCRYPTION_KEYS]
    files = stored_files(private_dir)
    numbers = list(IdentityVerification.objects.values_list("document_number_encrypted", flat=True))

    output = rotate("--dry-run")

    assert "3 would be re-encrypted" in output and "1 would be re-encrypted" in output
    assert set(EncryptedFile.objects.values_list("key_id", flat=True)) == {old_id}
    assert stored_files(private_dir) == files
    assert list(IdentityVerification.objects.values_list("document_number_encrypted", flat=True)) == numbers
    assert not AuditEvent.objects.filter(action="encryption.rotated").exists()


@pytest.mark.django_db
def test_an_item_no_key_opens_fails_loudly_and_is_left_untouched(identity, keyring, private_dir, people):
    first_verification, first_consent = identity
    k1 = keyring.ATELIER_ENCRYPTION_KEYS[0]
    # A second performer's papers were stored under a key that is then (wrongly) dropped.
    k2 = new_key()
    keyring.ATELIER_ENCRYPTION_KEYS = [k2]
    other = services.create_performer(legal_name="Olivia Sample", date_of_birth=date(1993, 9, 30),
                                      creators=[people["a"]])
    lost = services.record_verification(performer=other, document_kind="national_id", result="pending",
                                        actor=people["owner"], document_number="GB-0000", front=FRONT)
    lost_files = {name: data for name, data in stored_files(private_dir).items() if name == lost.front.storage_name}
    lost_number = lost.document_number_encrypted
    k3 = new_key()
    keyring.ATELIER_ENCRYPTION_KEYS = [k3, k1]

    with pytest.raises(CommandError) as failure:
        rotate()

    message = str(failure.value)
    assert f"document #{lost.front_id}" in message and f"identity check #{lost.pk}" in message
    assert "ATELIER_ENCRYPTION_KEYS" in message
    # The unreadable items are exactly as they were ...
    lost.refresh_from_db()
    assert lost.front.key_id == crypto.key_id(k2)
    assert lost.document_number_encrypted == lost_number
    assert {n: d for n, d in stored_files(private_dir).items() if n in lost_files} == lost_files
    # ... and everything else was rotated, each item on its own.
    assert EncryptedFile.objects.filter(key_id=crypto.key_id(k3)).count() == 3
    event = AuditEvent.objects.get(action="encryption.rotated")
    assert event.changes["failed"] == [f"document #{lost.front_id}", f"identity check #{lost.pk}"]
    assert event.changes["failed_count"] == 2

    # With the missing key back, a second run finishes the job.
    keyring.ATELIER_ENCRYPTION_KEYS = [k3, k1, k2]
    rotate()
    keyring.ATELIER_ENCRYPTION_KEYS = [k3]
    assert read_everything(first_verification, first_consent, people["owner"]) == (FRONT, BACK, RELEASE, NUMBER)
    lost.refresh_from_db()
    assert services.read_document(lost.front, actor=people["owner"], purpose="test") == FRONT
    assert services.read_document_number(lost, actor=people["owner"]) == "GB-0000"


@pytest.mark.django_db
def test_a_missing_ciphertext_is_reported_not_skipped(identity, keyring, private_dir):
    verification, _ = identity
    (private_dir / verification.front.storage_name).unlink()
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key(), *keyring.ATELIER_ENCRYPTION_KEYS]
    with pytest.raises(CommandError, match=f"document #{verification.front_id} \\(missing"):
        rotate()
    assert EncryptedFile.objects.filter(key_id=crypto.key_id()).count() == 2


@pytest.mark.django_db
def test_dry_run_also_fails_on_an_item_no_key_opens(identity, keyring):
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(CommandError, match="could not be opened"):
        rotate("--dry-run")


@pytest.mark.django_db
def test_a_rotated_document_reads_through_the_same_instance(identity, keyring, people):
    verification, _ = identity
    doc = verification.front
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key(), *keyring.ATELIER_ENCRYPTION_KEYS]
    assert services.rotate_document(doc) is True
    assert services.read_document(doc, actor=people["owner"], purpose="test") == FRONT


@pytest.mark.django_db
def test_a_rolled_back_rotation_keeps_the_document_readable(identity, keyring, people):
    verification, _ = identity
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key(), *keyring.ATELIER_ENCRYPTION_KEYS]
    with pytest.raises(RuntimeError), transaction.atomic():
        services.rotate_document(EncryptedFile.objects.get(pk=verification.front_id))
        raise RuntimeError("the surrounding transaction fails")
    doc = EncryptedFile.objects.get(pk=verification.front_id)
    assert services.read_document(doc, actor=people["owner"], purpose="test") == FRONT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_rotations_rotate_each_document_once(keyring, private_dir, people):
    old = keyring.ATELIER_ENCRYPTION_KEYS[0]
    for n in range(8):
        performer = services.create_performer(legal_name=f"Performer {n}", date_of_birth=date(1990, 1, 1),
                                              creators=[people["a"]])
        services.record_verification(performer=performer, document_kind="passport", result="pending",
                                     actor=people["owner"], document_number=f"N-{n}", front=FRONT, back=BACK)
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key(), old]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            rotate()
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    runs = AuditEvent.objects.filter(action="encryption.rotated")
    assert sum(e.changes["documents_rotated"] for e in runs) == 16
    assert sum(e.changes["numbers_rotated"] for e in runs) == 8
    assert set(stored_files(private_dir)) == set(EncryptedFile.objects.values_list("storage_name", flat=True))
    keyring.ATELIER_ENCRYPTION_KEYS = keyring.ATELIER_ENCRYPTION_KEYS[:1]
    for doc in EncryptedFile.objects.all():
        assert services.read_document(doc, actor=people["owner"], purpose="test") in (FRONT, BACK)


@pytest.mark.django_db
def test_rotation_covers_platform_credentials_and_generation_backend_keys(keyring, people):
    from content import studio
    from content.models import GenerationBackend
    from scheduling import services as scheduling

    account = PlatformAccountFactory(creator=people["a"], platform="telegram", handle="@chan")
    scheduling.store_credentials(account, {"bot_token": "123:secret"}, actor=people["owner"])
    backend = GenerationBackend.objects.create(name="GPU", kind="openai", purpose="text", base_url="http://gpu")
    studio.set_api_key(backend, "sk-rotate-me")
    old = keyring.ATELIER_ENCRYPTION_KEYS[0]
    keyring.ATELIER_ENCRYPTION_KEYS = [new_key(), old]

    output = rotate()

    assert "Credentials:      2 re-encrypted" in output
    keyring.ATELIER_ENCRYPTION_KEYS = keyring.ATELIER_ENCRYPTION_KEYS[:1]  # the old key is gone
    account.refresh_from_db()
    backend.refresh_from_db()
    assert scheduling.read_credentials(account, purpose="test", actor=people["owner"]) == {"bot_token": "123:secret"}
    assert crypto.decrypt_text(backend.api_key_encrypted) == "sk-rotate-me"
    assert AuditEvent.objects.get(action="encryption.rotated").changes["credentials_rotated"] == 2
