"""Instants as the API accepts them: aware, in UTC, within years every part of the stack can convert."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

# PostgreSQL refuses offsets past ±15:59 as written, and Python overflows converting year 1 or 9999 to a
# zone on the other side of UTC. An instant normalised to UTC within these years is safe everywhere: in
# SQL, in any creator's timezone (±1 day) and beside the year-9999 sentinels the code sorts with.
MIN_YEAR = 1900
MAX_YEAR = 9998
RANGE_MESSAGE = f"Use a date between the years {MIN_YEAR} and {MAX_YEAR}."


class InstantOutOfRange(ValueError):
    """The value is a datetime, but one the API does not accept; the message says the accepted range."""

    def __init__(self) -> None:
        super().__init__(RANGE_MESSAGE)


def to_utc(value: datetime, naive_in: tzinfo = UTC) -> datetime:
    """`value` as an aware UTC datetime; a naive value is read in `naive_in`. Refuses years out of range.

    The year is checked before converting, so the conversion itself can never overflow.
    """
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InstantOutOfRange
    aware = value if value.tzinfo is not None and value.utcoffset() is not None else value.replace(tzinfo=naive_in)
    utc = aware.astimezone(UTC)
    if not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise InstantOutOfRange
    return utc
