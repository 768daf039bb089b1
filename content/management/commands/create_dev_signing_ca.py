"""``manage.py create_dev_signing_ca``: a local CA and C2PA signing certificate for development.

Production uses a certificate from a CA on the C2PA trust list; this command only exists so that
developers and CI can sign manifests the SDK accepts (it refuses a lone self-signed certificate).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from content.provenance.dev_ca import write_dev_signing_files


def _default_out_dir() -> Path:
    return Path(getattr(settings, "VAR_DIR", Path(settings.BASE_DIR) / "var")) / "c2pa-dev"


class Command(BaseCommand):
    help = "Create a development root CA and an ES256 C2PA signing certificate issued by it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", type=Path, default=None, help="directory for the PEM files (default: VAR_DIR/c2pa-dev)"
        )
        parser.add_argument(
            "--force", action="store_true", help="replace existing files (invalidates trust in old ones)"
        )

    def handle(self, *args: object, out: Path | None = None, force: bool = False, **options: object) -> None:
        out_dir = (out or _default_out_dir()).resolve()
        repo = Path(settings.BASE_DIR).resolve()
        var_dir = Path(getattr(settings, "VAR_DIR", repo / "var")).resolve()
        # A private key must never be committed: inside the checkout, only the ignored var dir is allowed.
        if out_dir.is_relative_to(repo) and not out_dir.is_relative_to(var_dir):
            raise CommandError(
                f"refusing to write a private key inside the repository ({out_dir}); use VAR_DIR or --out elsewhere"
            )
        try:
            files = write_dev_signing_files(out_dir, overwrite=force)
        except FileExistsError as exc:
            raise CommandError(f"{exc}; pass --force to replace them") from None

        self.stdout.write(self.style.SUCCESS(f"Development C2PA signing material written to {out_dir}"))
        self.stdout.write("Set these in the environment (or .env):")
        self.stdout.write(f"C2PA_SIGNING_CERT_CHAIN={files.chain_path}")
        self.stdout.write(f"C2PA_SIGNING_KEY={files.key_path}")
        self.stdout.write("C2PA_SIGNING_ALG=es256")
        self.stdout.write(f"C2PA_TRUST_ANCHORS={files.root_path}")
        self.stdout.write(self.style.WARNING("This CA is for development only: no public validator trusts it."))
