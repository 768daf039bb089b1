"""A price typed as people read it (19.99 EUR, 1200 JPY) on admin forms whose model keeps minor units.

Why: staff typing 1999 for €19.99 get it wrong by a factor of a hundred (or of none, in yen). The
model column and the API stay integer minor units; only the form speaks currency units, converting
in `clean()` with the currency's own exponent, so the service still receives `price_minor`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from unfold.widgets import UnfoldAdminDecimalFieldWidget

from core import money

if TYPE_CHECKING:
    _ModelForm = forms.ModelForm[Any]
else:
    _ModelForm = forms.ModelForm


class PriceInUnitsForm(_ModelForm):
    """A ModelForm whose `price` field stands for the model's `price_minor`, next to its `currency`."""

    price = forms.DecimalField(
        label="Price", required=False,
        widget=UnfoldAdminDecimalFieldWidget(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
        help_text="In the currency's units, as fans read it: 19.99 for €19.99, 1200 for ¥1,200.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk is not None and instance.price_minor is not None and "price" not in self.initial:
            self.initial["price"] = money.to_units(instance.price_minor, instance.currency or "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "price" not in self.fields:
            return cleaned
        amount: Decimal | None = cleaned.get("price")
        currency = (cleaned.get("currency") or "").strip()
        if amount is None:
            if "price" not in self.errors:
                cleaned["price_minor"] = None
                self.instance.price_minor = None
            return cleaned
        if not currency:
            if "currency" not in self.errors:
                self.add_error("currency", "Give the currency of this price, e.g. EUR.")
            return cleaned
        try:
            minor = money.to_minor(amount, currency)
        except ValueError as exc:
            self.add_error("price", str(exc))
            return cleaned
        cleaned["price_minor"] = minor
        self.instance.price_minor = minor
        return cleaned
