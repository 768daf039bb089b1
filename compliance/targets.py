"""What a takedown request may name besides performers, resolved by the apps that own it.

Assets belong to `content` and publications to `scheduling`, both above compliance, which never
imports them (ARCHITECTURE.md, dependency direction). Those apps register a resolver per kind when
they start; `compliance.services.open_takedown` asks it to check that the ids (or URLs) exist and
belong to the request's creator, and to label them. The dependency points the allowed way: the upper
app calls `register`, compliance only calls back what was registered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class NamedTarget:
    """One resolved target: `kind` is "asset", "publication" or "url"; `url` is set for a URL, and for
    a publication found through a URL; `label` is what a person reading the request sees."""

    kind: str
    object_id: int | None = None
    url: str = ""
    label: str = ""


# (creator id or None for an agency-wide request, the values asked for) -> the targets, or raise
# ValidationError naming what does not exist or belongs to another creator.
Resolver = Callable[[int | None, Sequence], list[NamedTarget]]

_resolvers: dict[str, Resolver] = {}


def register(kind: str, resolver: Resolver) -> None:
    """Called once per kind from the owning app's `ready()`."""
    _resolvers[kind] = resolver


def resolve(kind: str, creator_id: int | None, values: Sequence) -> list[NamedTarget]:
    if not values:
        return []
    try:
        resolver = _resolvers[kind]
    except KeyError:
        raise ImproperlyConfigured(f"No app resolves takedown targets of kind {kind!r}.") from None
    return resolver(creator_id, values)
