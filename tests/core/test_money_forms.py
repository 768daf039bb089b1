"""Admin forms take prices in currency units (19.99 EUR, 1200 JPY) and store integer minor units."""

from decimal import Decimal

import pytest
from django.urls import reverse

from content.models import Collection
from core import money
from scheduling.models import Post

pytestmark = pytest.mark.django_db


def post_data(people, **price):
    return {"creator": people["a"].pk, "caption": "A new set", "collection": "", "price": "", "currency": "",
            "post_assets-TOTAL_FORMS": "0", "post_assets-INITIAL_FORMS": "0",
            "publications-TOTAL_FORMS": "0", "publications-INITIAL_FORMS": "0", **price}


def collection_data(people, **price):
    return {"creator": people["a"].pk, "kind": "folder", "title": "Summer", "description": "", "cover": "",
            "price": "", "currency": "", "items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "1000", **price}


FORMS = {
    "post": (Post, "admin:scheduling_post_add", "admin:scheduling_post_change", post_data),
    "collection": (Collection, "admin:content_collection_add", "admin:content_collection_change", collection_data),
}


@pytest.fixture(params=list(FORMS))
def form(request):
    return FORMS[request.param]


def _form_errors(response):
    return response.context["adminform"].form.errors


@pytest.mark.parametrize(("typed", "currency", "stored", "shown"), [
    ("19.99", "EUR", 1999, "19.99"),
    ("1200", "JPY", 1200, "1200"),
    ("5", "EUR", 500, "5.00"),
    ("1.250", "KWD", 1250, "1.250"),
])
def test_price_round_trip(client, people, form, typed, currency, stored, shown):
    model, add, change, data = form
    client.force_login(people["owner"])
    response = client.post(reverse(add), data(people, price=typed, currency=currency))
    assert response.status_code == 302, _form_errors(response)
    row = model.objects.get()
    assert (row.price_minor, row.currency) == (stored, currency)
    page = client.get(reverse(change, args=[row.pk]))
    assert page.status_code == 200
    assert page.context["adminform"].form["price"].value() == Decimal(shown)
    assert f'value="{shown}"' in page.content.decode()


def test_no_price_stays_empty(client, people, form):
    model, add, _change, data = form
    client.force_login(people["owner"])
    response = client.post(reverse(add), data(people))
    assert response.status_code == 302, _form_errors(response)
    assert model.objects.get().price_minor is None


@pytest.mark.parametrize(("typed", "currency", "says"), [
    ("19.999", "EUR", "EUR takes at most 2 decimals"),
    ("1200.5", "JPY", "JPY takes no decimals"),
    ("-1", "EUR", "cannot be negative"),
    ("99999999999", "EUR", "too large for a price"),
    ("1e400", "EUR", "too large for a price"),
    ("nineteen", "EUR", "Enter a number"),
    ("NaN", "EUR", "Enter a number"),
    ("19.99", "", "Give the currency of this price"),
])
def test_bad_price_is_a_form_error(client, people, form, typed, currency, says):
    model, add, _change, data = form
    client.force_login(people["owner"])
    response = client.post(reverse(add), data(people, price=typed, currency=currency))
    assert response.status_code == 200
    assert says in str(_form_errors(response))
    assert not model.objects.exists()


def test_editing_the_price_keeps_minor_units(client, people, form):
    model, add, change, data = form
    client.force_login(people["owner"])
    client.post(reverse(add), data(people, price="19.99", currency="EUR"))
    row = model.objects.get()
    response = client.post(reverse(change, args=[row.pk]), {**data(people, price="24.50", currency="EUR"),
                                                            "_save": "Save"})
    assert response.status_code == 302, _form_errors(response)
    row.refresh_from_db()
    assert row.price_minor == 2450


def test_to_minor_is_exact():
    assert money.to_minor(Decimal("19.99"), "eur") == 1999
    assert money.to_minor(Decimal("1200"), "JPY") == 1200
    assert money.to_minor(Decimal("19.990"), "EUR") == 1999
    with pytest.raises(ValueError, match="no decimals"):
        money.to_minor(Decimal("0.5"), "JPY")
    with pytest.raises(ValueError, match="too large"):
        money.to_minor(Decimal("1E+999999"), "EUR")
