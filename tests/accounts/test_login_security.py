from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent

PASSWORD = "correct-horse-battery"


def login(client, username: str, password: str = PASSWORD):
    return client.post(reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"})


@pytest.mark.django_db
def test_lockout_after_repeated_failures(client, people, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "alice", "wrong-password")
    response = login(client, "alice")  # even the right password is refused while locked
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_two_factor_enrolment_then_check(client, people, settings):
    settings.ATELIER_REQUIRE_2FA = True
    assert login(client, "alice").status_code == 302
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith(reverse("admin:two_factor"))
    # No device yet: enrolment page with a QR code.
    response = client.get(reverse("admin:two_factor"), follow=True)
    assert b"<svg" in response.content
    device = TOTPDevice.objects.get(user=people["alice"], confirmed=False)
    assert client.post(reverse("admin:two_factor_setup"), {"token": "000000"}).status_code == 200
    device.refresh_from_db()
    device.throttle_reset()  # a wrong code throttles the next try for a second; don't wait in tests
    response = client.post(reverse("admin:two_factor_setup"), {"token": f"{totp(device.bin_key):06d}"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.second_factor_enrolled", actor=people["alice"]).exists()


@pytest.mark.django_db
def test_two_factor_required_for_enrolled_user_and_api(client, people, settings):
    settings.ATELIER_REQUIRE_2FA = True
    device = TOTPDevice.objects.create(user=people["alice"], name="phone", confirmed=True)
    login(client, "alice")
    assert client.get("/admin/accounts/creator/").status_code == 302
    assert client.get("/api/v1/creators/").status_code == 403
    # a second device cannot be enrolled to dodge the check
    assert client.get(reverse("admin:two_factor_setup")).status_code == 302
    response = client.post(reverse("admin:two_factor"), {"token": f"{totp(device.bin_key):06d}", "next": "/admin/"})
    assert response.status_code == 302
    assert client.get("/admin/accounts/creator/").status_code == 200
    assert client.get("/api/v1/creators/").status_code == 200


@pytest.mark.django_db
def test_two_factor_off_by_setting(client, people, settings):
    settings.ATELIER_REQUIRE_2FA = False
    login(client, "alice")
    assert client.get("/admin/").status_code == 200
