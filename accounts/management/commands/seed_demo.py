"""Demo data for a first look: an owner, one staff member per role, three creators.

Idempotent: running it again changes nothing but makes sure the demo login works. The demo
password is random per machine (kept in var/demo-login.txt), so no credential lives in the repo.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.models import Creator, Role, User

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
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready: {len(creators)} creators, {len(STAFF)} staff.\n"
            f"  Admin:    http://127.0.0.1:8000/admin/\n"
            f"  Login:    owner / {password}   (staff: {', '.join(s[0] for s in STAFF)} — same password)"
        ))
