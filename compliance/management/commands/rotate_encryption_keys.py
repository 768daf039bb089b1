"""Re-encrypt identity documents, signed releases, document numbers and stored credentials (platform
tokens, generation backend keys: every field in `crypto.ENCRYPTED_TEXT_FIELDS`) under the primary key.

Rotation, as `compliance.crypto` describes it: prepend a new key to ATELIER_ENCRYPTION_KEYS, run
this command, and drop the old key only once it reports nothing left to rotate and no failure.

Each item is rotated in its own transaction with its row locked, so a crash, a concurrent run or
one unreadable item never leaves another half-done, and running the command again only picks
up what is still under an old key. An item no configured key opens is left exactly as it was,
named in the error, and makes the command exit non-zero: dropping a key too early must be loud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import audit
from compliance import crypto, services
from compliance.models import EncryptedFile

ACTOR_LABEL = "command:rotate_encryption_keys"
LISTED_FAILURES = 50


@dataclass
class Tally:
    rotated: int = 0
    current: int = 0
    failed: list[str] = field(default_factory=list)


class Command(BaseCommand):
    help = ("Re-encrypt every stored document and document number under the first key of "
            "ATELIER_ENCRYPTION_KEYS. Safe to run again; exits non-zero if any item opens with no configured key.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="Check that every item opens and count what would be re-encrypted; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        primary_key = crypto.keys()[0]
        primary_id = crypto.key_id(primary_key)
        documents = self._rotate_documents(primary_id, dry_run)
        primary = Fernet(primary_key.encode())
        numbers = Tally()
        secrets = Tally()
        for model_label, field_name, label in crypto.ENCRYPTED_TEXT_FIELDS:
            tally = self._rotate_text_field(apps.get_model(model_label), field_name, label, primary, dry_run)
            target = numbers if model_label == "compliance.IdentityVerification" else secrets
            target.rotated += tally.rotated
            target.current += tally.current
            target.failed += tally.failed
        failed = documents.failed + numbers.failed + secrets.failed
        if not dry_run:
            audit.record("encryption.rotated", actor_label=ACTOR_LABEL, changes={
                "key": primary_id,
                "documents_rotated": documents.rotated, "documents_current": documents.current,
                "numbers_rotated": numbers.rotated, "numbers_current": numbers.current,
                "credentials_rotated": secrets.rotated, "credentials_current": secrets.current,
                "failed_count": len(failed), "failed": failed[:LISTED_FAILURES],
            })
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        self.stdout.write(
            f"Primary key {primary_id}{' (dry run: nothing changed)' if dry_run else ''}.\n"
            f"  Documents:        {documents.rotated} {verb}, {documents.current} already current, "
            f"{len(documents.failed)} failed.\n"
            f"  Document numbers: {numbers.rotated} {verb}, {numbers.current} already current, "
            f"{len(numbers.failed)} failed.\n"
            f"  Credentials:      {secrets.rotated} {verb}, {secrets.current} already current, "
            f"{len(secrets.failed)} failed."
        )
        if failed:
            listed = ", ".join(failed[:LISTED_FAILURES])
            more = f" and {len(failed) - LISTED_FAILURES} more" if len(failed) > LISTED_FAILURES else ""
            raise CommandError(
                f"{len(failed)} item(s) could not be opened with any configured key and were left untouched: "
                f"{listed}{more}. Put back the key that encrypted them in ATELIER_ENCRYPTION_KEYS "
                f"(after the new primary key) and run the command again; do not drop any key until this passes."
            )
        self.stdout.write(self.style.SUCCESS("Every item is under the primary key." if not dry_run
                                             else "Every item opens with a configured key."))

    def _rotate_documents(self, primary_id: str, dry_run: bool) -> Tally:
        tally = Tally()
        for pk in EncryptedFile.objects.order_by("pk").values_list("pk", flat=True):
            try:
                with transaction.atomic():
                    doc = EncryptedFile.objects.select_for_update().filter(pk=pk).first()
                    if doc is None:  # deleted since the listing
                        continue
                    if doc.key_id == primary_id:
                        tally.current += 1
                    elif dry_run:
                        with services.private_storage().open(doc.storage_name, "rb") as fh:
                            crypto.decrypt(fh.read())
                        tally.rotated += 1
                    else:
                        services.rotate_document(doc)
                        tally.rotated += 1
            except crypto.DecryptionError:
                tally.failed.append(f"document #{pk}")
            except FileNotFoundError:
                tally.failed.append(f"document #{pk} (missing from the private storage)")
        return tally

    def _rotate_text_field(self, model: Any, field_name: str, label: str, primary: Fernet, dry_run: bool) -> Tally:
        tally = Tally()
        rows = model.objects.exclude(**{field_name: ""}).order_by("pk")
        for pk in rows.values_list("pk", flat=True):
            try:
                with transaction.atomic():
                    token = (model.objects.select_for_update().filter(pk=pk)
                             .values_list(field_name, flat=True).first())
                    if not token:
                        continue
                    if _opens_with(primary, token.encode()):
                        tally.current += 1
                        continue
                    rotated = crypto.rotate(token.encode()).decode()
                    if not dry_run:
                        model.objects.filter(pk=pk).update(**{field_name: rotated})
                    tally.rotated += 1
            except crypto.DecryptionError:
                tally.failed.append(f"{label} #{pk}")
        return tally


def _opens_with(key: Fernet, token: bytes) -> bool:
    # A Fernet token does not name its key: the only way to know it is current is to try.
    try:
        key.decrypt(token)
    except InvalidToken:
        return False
    return True
