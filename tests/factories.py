"""Factories for the accounts models; each app adds its own module beside this one."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.models import Creator, User


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    is_staff = True
    password = factory.django.Password("correct-horse-battery")


class CreatorFactory(DjangoModelFactory):
    class Meta:
        model = Creator

    stage_name = factory.Sequence(lambda n: f"Creator {n}")
    slug = factory.LazyAttribute(lambda c: c.stage_name.lower().replace(" ", "-"))
    kind = Creator.Kind.HUMAN
    status = Creator.Status.ACTIVE
    timezone = "Europe/Paris"
