"""Files nobody may reach by guessing a URL: the private storage, short-lived signed links, moves.

Two storages hold media (settings.STORAGES): "default" for renditions and "private" for what must
never sit behind a public URL (originals, export bundles, identity documents). Neither is served
by path. A person reaches a file through a view that checks who they are and what they may see,
which then hands out a signed link that expires within minutes; a platform that fetches media by
URL (Instagram) gets the same kind of link with a longer life. On S3 the link is the bucket's own
presigned URL; on local disk it is `/files/<token>/<name>`, served by `serve_signed` below, where
the token is Django's signing of (storage, name, expiry) with SECRET_KEY.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.functional import LazyObject, empty
from django.views.decorators.http import require_GET

SIGNING_SALT = "core.files.signed"
SERVABLE = frozenset({"default", "private"})


class _PrivateStorage(LazyObject):
    """storages["private"], looked up when first used (and again when STORAGES changes), so a model
    field can name it at import time."""

    _wrapped: Any  # the storage, or `empty` until first used (django-stubs leave it undeclared)

    def _setup(self) -> None:
        self._wrapped = storages["private"]


_private = _PrivateStorage()


def private_storage() -> Storage:
    """For `FileField(storage=private_storage)`: the field's files live in the private storage."""
    return _private  # type: ignore[return-value]


@receiver(setting_changed)
def _storages_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "STORAGES":
        _private._wrapped = empty


def _unwrap(storage: Any) -> Any:
    if isinstance(storage, LazyObject):
        lazy: Any = storage  # `_wrapped` and `_setup` are LazyObject's own, undeclared in django-stubs
        if lazy._wrapped is empty:
            lazy._setup()
        return lazy._wrapped
    return storage


def alias_of(storage: Any) -> str:
    """The STORAGES alias a storage instance was built from ("" when it is none of them)."""
    target = _unwrap(storage)
    return next((alias for alias in settings.STORAGES if storages[alias] is target), "")


def is_remote(storage: Any) -> bool:
    """Object storage (S3) signs its own URLs; local disk needs our view."""
    return hasattr(_unwrap(storage), "bucket_name")


# --- Signed links ----------------------------------------------------------------------------------


def signed_url(alias: str, name: str, *, ttl: int, base: str = "", filename: str = "",
               download: bool = False) -> str:
    """A link to one stored file that works for `ttl` seconds, for whoever holds it.

    On S3 it is a presigned URL of the object; on local disk a `/files/` link, absolute when `base`
    (an origin such as https://atelier.example.com) is given. `download` asks the browser to save
    the file under `filename` rather than show it.
    """
    if alias not in SERVABLE:
        raise ValueError(f"Files of the {alias!r} storage are not handed out by link.")
    storage = storages[alias]
    shown = (filename or name.rsplit("/", 1)[-1]).replace('"', "")
    if is_remote(storage):
        disposition = f'{"attachment" if download else "inline"}; filename="{shown}"'
        # django-storages' S3 `url()` takes these two; the base Storage's signature does not.
        remote: Any = storage
        return str(remote.url(name, parameters={"ResponseContentDisposition": disposition}, expire=ttl))
    shown = shown or "file"
    token = signing.dumps({"s": alias, "n": name, "e": int(time.time()) + ttl, "d": download, "f": shown},
                          salt=SIGNING_SALT, compress=True)
    return base.rstrip("/") + reverse("signed_file", args=[token, shown])


@dataclass(frozen=True)
class SignedFile:
    alias: str
    name: str
    download: bool
    filename: str


class LinkExpired(Exception):
    pass


def read_token(token: str) -> SignedFile:
    """What a `/files/` token names; Http404 when it is not ours (or was altered), LinkExpired when
    it is ours but past its time."""
    try:
        data = signing.loads(token, salt=SIGNING_SALT)
    except signing.BadSignature:
        raise Http404("No such file.") from None
    if not isinstance(data, dict) or data.get("s") not in SERVABLE or not isinstance(data.get("n"), str) \
            or not isinstance(data.get("e"), int):
        raise Http404("No such file.")
    if data["e"] < time.time():
        raise LinkExpired
    return SignedFile(alias=data["s"], name=data["n"], download=bool(data.get("d")),
                      filename=str(data.get("f") or "file"))


@require_GET
def serve_signed(request: HttpRequest, token: str, filename: str) -> HttpResponse | FileResponse:
    """The bytes behind a signed `/files/` link. Who may have the link was decided when it was made;
    the name at the end of the path is for the eye (and for fetchers that look at extensions)."""
    try:
        found = read_token(token)
    except LinkExpired:
        return HttpResponse("This link has expired. Ask Atelier for a new one.\n", status=403,
                            content_type="text/plain; charset=utf-8")
    storage = storages[found.alias]
    try:
        handle = storage.open(found.name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("No such file.") from None
    content_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type, as_attachment=found.download,
                            filename=found.filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- Moving files between storages ------------------------------------------------------------------


@dataclass
class MoveReport:
    moved: int = 0
    already_there: int = 0
    missing: list[str] | None = None

    def __str__(self) -> str:
        missing = len(self.missing or [])
        return f"{self.moved} moved, {self.already_there} already in place, {missing} missing"


def move_files(names: Iterable[str], source: str, target: str) -> MoveReport:
    """Move stored files to another storage under the same names: copy, check, then delete the source.

    Idempotent and safe to interrupt: a file already in the target is not copied again (its source
    copy, if one is left, is deleted); a name in neither storage is reported, not invented.
    """
    src, dst = storages[source], storages[target]
    missing: list[str] = []
    report = MoveReport(missing=missing)
    for name in dict.fromkeys(n for n in names if n):
        if dst.exists(name):
            if src.exists(name):
                src.delete(name)
            report.already_there += 1
            continue
        if not src.exists(name):
            missing.append(name)
            continue
        with src.open(name, "rb") as handle:
            saved = dst.save(name, File(handle, name=name.rsplit("/", 1)[-1]))
        if saved != name:
            dst.delete(saved)
            raise RuntimeError(f"{target} stored {name!r} as {saved!r}; nothing was deleted from {source}.")
        src.delete(name)
        report.moved += 1
    return report
