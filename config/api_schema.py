"""The OpenAPI schema's default view inspector: every operation documents the errors the API can answer.

The error format is `core.api.errors`'s; here it becomes the `Error` component, added to every operation for
every status the plumbing can produce (validation, authentication, permission, absence, conflict, size,
media type, idempotency), so a client generated from the schema knows every answer it may get.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: `invalid`, `not_found`, `conflict`…")
    message = serializers.CharField(help_text="For a person: what went wrong and what to do.")
    details = serializers.JSONField(allow_null=True, help_text="Per-field messages (`invalid`), the gate's "
                                                               "reasons (`gate_refused`), or null.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


ERROR_RESPONSES = {
    "400": "Invalid request: `details` maps each field (or `non_field_errors`) to its messages.",
    "401": "No credentials, or an unknown, expired or revoked API key.",
    "403": "Not allowed: a read-only key writing, or a row the caller may see but not change.",
    "404": "No such row within the caller's reach (other creators' rows are absent, not forbidden).",
    "409": "The current state does not allow it, or a concurrent request got there first; `message` says why. "
           "With `Retry-After`: the same Idempotency-Key is still being answered.",
    "413": "The body is larger than the server accepts.",
    "415": "The body is not in a content type this operation reads.",
    "422": "The Idempotency-Key was already used for a different request.",
}


class AutoSchema(SpectacularAutoSchema):
    """Every operation documents, in the one error format, every error the API can answer for it."""

    def _error_codes(self) -> list[str]:
        codes = ["400", "401", "403"]
        if "{" in self.path:
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.append("409")
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["413", "415"]
        if self.method == "POST":
            codes.append("422")
        return codes

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        component = self.resolve_serializer(ErrorSerializer, "response")
        content = {"application/json": {"schema": component.ref}}
        for code in self._error_codes():
            entry = responses.setdefault(code, {"description": ERROR_RESPONSES[code]})
            entry.setdefault("content", content)
        for code, entry in responses.items():
            if code.startswith("4") and "content" not in entry:
                entry["content"] = content
        return responses

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> dict[str, Any]:
        if isinstance(field, serializers.TimeField):
            # A wall-clock time in the creator's zone, without an offset: not RFC 3339's `time` format.
            return {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
                    "example": "20:30", **({"nullable": True} if field.allow_null else {})}
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_parameters()
        if self.method == "POST":
            parameters.append({
                "in": "header", "name": "Idempotency-Key", "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "Any unique text (a UUID). Retrying with the same key and body answers the first "
                               "answer again instead of acting twice; kept for 24 hours.",
            })
        return parameters
