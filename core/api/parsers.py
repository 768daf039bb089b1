"""The JSON parser of the API: a document must be shallow enough to walk and hold no NUL character.

Python's decoder overflows its stack near a thousand levels (RecursionError, not ValueError), and
PostgreSQL stores no NUL in text or jsonb; both are refused here, before any view sees the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


def check_document(data: Any) -> None:
    """Walk the parsed document without recursion; refuse depth past `MAX_DEPTH` and NUL in any string."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels is not accepted.")
            if isinstance(value, dict):
                for key, item in value.items():
                    if "\x00" in key:
                        raise ParseError("Text may not contain NUL (\\u0000) characters.")
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and "\x00" in value:
            raise ParseError("Text may not contain NUL (\\u0000) characters.")


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels is not accepted.") from None
        check_document(data)
        return data
