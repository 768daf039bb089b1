"""A row lock held by another connection, the way a second worker holds one, for tests of what the first does
meanwhile (PostgreSQL: tests using it run with `django_db(transaction=True)`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction


@contextmanager
def held_elsewhere(take_lock: Callable[[], Any], *, hold_for: float = 20) -> Iterator[None]:
    """Run `take_lock` in a transaction on another thread's connection and keep that transaction open until
    the block ends (or `hold_for` seconds pass)."""
    holding, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def other_worker() -> None:
        try:
            with transaction.atomic():
                take_lock()
                holding.set()
                release.wait(hold_for)
        except BaseException as exc:  # reported to the test below, not lost in the thread
            failure.append(exc)
            holding.set()
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(10), "the other connection never took its lock"
        if failure:
            raise failure[0]
        yield
    finally:
        release.set()
        thread.join(hold_for)
