"""How the admin shows a service's refusal: one way, wherever the service was called from.

Services own the rules and say no with Django's `ValidationError`; the admin never re-checks them,
it shows what the service said:

- on a form (a ModelAdmin's add or change page, or a form of a custom admin view): next to the field
  the refusal names, or above the form when it names none (`add_refusal`). A ModelAdmin whose save is
  a service call uses `ServiceFormMixin`, which renders the same POST again with the refusal on it;
- anywhere else (a changelist action, a button, a deletion): as an error message, prefixed with the
  row it was about when an action works through several (`message_refusal`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect


class ServiceRejected(Exception):
    """A service refused a change made through an admin form; carries its ValidationError."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(error)
        self.error = error


def refusal_text(error: ValidationError) -> str:
    """The refusal's messages as one sentence, for a message banner."""
    return " ".join(error.messages)


def add_refusal(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's refusal on a form: on the fields it names that the form has, above it otherwise."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def message_refusal(request: HttpRequest, error: ValidationError, *, about: str = "") -> None:
    """Show a service's refusal as an error message; `about` names the row when several were acted on."""
    text = refusal_text(error)
    messages.error(request, f"{about}: {text}" if about else text)


def call_service(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a service from a ModelAdmin's save, so that `ServiceFormMixin` shows its refusal on the form."""
    try:
        return fn(**kwargs)
    except ValidationError as exc:
        raise ServiceRejected(exc) from exc


def adopt(obj: Model, saved: Model) -> None:
    """Point the admin's unsaved form instance at the row the service created."""
    obj.pk = saved.pk
    obj._state.adding = False


# The request attribute that carries a refused form's errors into the form rendered again.
_SERVICE_ERRORS = "service_errors"


class ServiceFormMixin:
    """Forms whose save is a service call, with the service's refusals shown on the form.

    The service validates inside the view's transaction; when it refuses (a ValidationError from
    save_model, save_formset or save_related), the whole attempt rolls back and the same POST is
    rendered again with the service's errors attached to the form, so the rules live in the service
    alone and people still see them next to the field. A refused deletion comes back as a message,
    on the page `refused_deletion_url` names (the deletion page itself by default).
    """

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # The mixin's super() is the ModelAdmin it is mixed into, unknown to the checker.
        try:
            response: HttpResponse = super().changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context)
        except (ServiceRejected, ValidationError) as rejected:
            if getattr(request, _SERVICE_ERRORS, None) is not None:
                raise  # refused again with its errors shown: a bug, not a refusal to show
            setattr(request, _SERVICE_ERRORS, rejected.error if isinstance(rejected, ServiceRejected) else rejected)
            response = super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        return response

    def get_form(self, request: HttpRequest, obj: Model | None = None, change: bool = False,
                 **kwargs: Any) -> type[forms.ModelForm[Any]]:
        form_class: type[forms.ModelForm[Any]] = super().get_form(  # type: ignore[misc]
            request, obj, change, **kwargs)
        error: ValidationError | None = getattr(request, _SERVICE_ERRORS, None)
        if error is None:
            return form_class
        refusal = error  # the narrowed type, for the method below

        class RejectedForm(form_class):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                cleaned: dict[str, Any] = super().clean()
                add_refusal(self, refusal)
                return cleaned

        return RejectedForm

    def delete_view(self, request: HttpRequest, object_id: str,
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        try:
            response: HttpResponse = super().delete_view(request, object_id, extra_context)  # type: ignore[misc]
        except (ServiceRejected, ValidationError) as refused:
            message_refusal(request, refused.error if isinstance(refused, ServiceRejected) else refused)
            return HttpResponseRedirect(self.refused_deletion_url(request, object_id))
        return response

    def refused_deletion_url(self, request: HttpRequest, object_id: str) -> str:
        return request.path
