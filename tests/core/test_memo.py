"""Reads shared within one batch, and only there."""

from __future__ import annotations

from core import memo


def test_a_read_is_made_once_inside_a_batch_and_every_time_outside():
    calls: list[int] = []

    def read() -> int:
        calls.append(1)
        return len(calls)

    assert memo.shared("k", read) == 1 and memo.shared("k", read) == 2  # outside: afresh
    with memo.batch():
        assert memo.shared("k", read) == 3 and memo.shared("k", read) == 3
        assert memo.shared("other", read) == 4
        with memo.batch():  # nested: the same memory
            assert memo.shared("k", read) == 3
        memo.forget("k")
        assert memo.shared("k", read) == 5
    with memo.batch():  # a new batch remembers nothing of the last
        assert memo.shared("k", read) == 6
    assert memo.shared("k", read) == 7
