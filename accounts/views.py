"""Two-factor pages: confirm a TOTP code after the password, or enrol a first device."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit


class TokenForm(forms.Form):
    token = forms.CharField(max_length=8, label="Code from your authenticator app",
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}))


def _next_url(request: HttpRequest) -> str:
    target = request.GET.get("next") or request.POST.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return reverse("admin:index")
    return target


def two_factor(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None:
        return HttpResponseRedirect(f"{reverse('admin:two_factor_setup')}?next={_next_url(request)}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            otp_login(request, device)
            audit.record("auth.second_factor_passed", request.user)
            return HttpResponseRedirect(_next_url(request))
        audit.record("auth.second_factor_failed", request.user)
        form.add_error("token", "That code is not valid. Check your device's clock and try again.")
    context = {**admin.site.each_context(request), "form": form, "title": "Two-factor check",
               "next": _next_url(request)}
    return render(request, "admin/two_factor.html", context)


def two_factor_setup(request: HttpRequest) -> HttpResponse:
    # Enrolling another device must not be a way around the check.
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists() and not request.user.is_verified():
        return HttpResponseRedirect(reverse("admin:two_factor"))
    device, _ = TOTPDevice.objects.get_or_create(user=request.user, confirmed=False,
                                                 defaults={"name": "Authenticator app"})
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            audit.record("auth.second_factor_enrolled", request.user)
            return HttpResponseRedirect(_next_url(request))
        form.add_error("token", "That code is not valid. Scan the code again and retry.")
    buffer = io.BytesIO()
    qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    context = {**admin.site.each_context(request), "form": form, "title": "Set up two-factor sign-in",
               "qr_svg": buffer.getvalue().decode(), "next": _next_url(request), "setup": True}
    return render(request, "admin/two_factor.html", context)
