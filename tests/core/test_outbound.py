"""The guarded outbound client, attacked directly: every spelling of an internal address, names that
resolve inward, redirects that turn inward, DNS answers that change, credentials that try to
follow a redirect, proxies from the environment. A listener on loopback must receive nothing."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured, ValidationError

from config.env import env_networks
from core import outbound
from core.outbound import GuardedClient, OutboundRefused
from tests.conftest import LISTENER_BODY, Listener, recording_server

HINT = "set OUTBOUND_ALLOWED_NETWORKS to allow internal targets"


def internal_urls(listener: Listener) -> list[str]:
    """Every spelling of "this machine" that a resolver or a kernel would take to the listener."""
    port = listener.port
    return [
        f"http://127.0.0.1:{port}/", f"http://[::1]:{listener.port6}/", f"http://localhost:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/", f"http://2130706433:{port}/", f"http://0x7f.1:{port}/",
        f"http://127.1:{port}/", f"http://0.0.0.0:{port}/", f"http://[::ffff:7f00:1]:{port}/",
        f"http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/",
        f"http://hooks.example.test:{port}/",  # mapped to 127.0.0.1 through the resolver hook
        f"http://dual.example.test:{port}/",  # one public answer, one loopback answer
    ]


def odd_urls(listener: Listener) -> list[str]:
    """Spellings that some resolvers take to loopback and others refuse outright (httpx rejects
    0177.0.0.1; "localhost." resolves on some systems only): refused or unresolvable, never sent."""
    return [f"http://0177.0.0.1:{listener.port}/", f"http://LOCALHOST.:{listener.port}/"]


@pytest.fixture
def hosts(outbound_hosts):
    outbound_hosts.update({"hooks.example.test": ["127.0.0.1"], "dual.example.test": ["93.184.215.14", "127.0.0.1"],
                           "cdn.example.test": ["127.0.0.2"]})
    return outbound_hosts


def test_every_spelling_of_loopback_is_refused_and_the_listener_hears_nothing(listener, hosts, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with GuardedClient(timeout=2) as client:
        for url in internal_urls(listener):
            with pytest.raises(OutboundRefused, match=HINT):
                client.get(url)
            with pytest.raises(OutboundRefused):
                client.post(url, content=b"secret", headers={"Authorization": "Bearer token"})
        for url in odd_urls(listener):
            with pytest.raises((OutboundRefused, httpx.InvalidURL, httpx.ConnectError)):
                client.get(url)
    assert not listener.reached


@pytest.mark.parametrize(("host", "reason"), [
    ("10.0.0.1", "10.0.0.1 is a private address"),
    ("172.16.5.4", "172.16.5.4 is a private address"),
    ("192.168.1.1", "192.168.1.1 is a private address"),
    ("169.254.169.254", "169.254.169.254 is a link-local address"),
    ("100.64.0.1", "100.64.0.1 is not a public address"),
    ("224.0.0.251", "224.0.0.251 is a multicast address"),
    ("240.0.0.1", "240.0.0.1 is a private address"),
    ("0.0.0.0", "0.0.0.0 is an unspecified address"),  # noqa: S104
    ("[::]", ":: is an unspecified address"),
    ("[fd00::1]", "fd00::1 is a private address"),
    ("[fc00::5]", "fc00::5 is a private address"),
    ("[fe80::1]", "fe80::1 is a link-local address"),
    ("[fe80::1%25eth0]", "is a link-local address"),
    ("[fec0::1]", "fec0::1 is a site-local address"),
    ("[ff02::1]", "ff02::1 is a multicast address"),
    ("[::ffff:169.254.169.254]", "(IPv4 169.254.169.254) is a link-local address"),
    ("[2002:a00:1::]", "(IPv4 10.0.0.1) is a private address"),
    ("[64:ff9b::a9fe:a9fe]", "(IPv4 169.254.169.254) is a link-local address"),
    ("metadata.example.test", "metadata.example.test resolves to 169.254.169.254, a link-local address"),
])
def test_internal_targets_are_refused_before_any_connection(host, reason, outbound_hosts, connection_attempts):
    outbound_hosts["metadata.example.test"] = ["169.254.169.254"]
    with GuardedClient(timeout=2) as client, pytest.raises(OutboundRefused) as refused:
        client.get(f"http://{host}/latest/meta-data/iam/security-credentials/")
    assert reason in str(refused.value) and HINT in str(refused.value)
    assert str(refused.value).startswith("refused: ")
    assert connection_attempts == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1:6379/_INFO",
                                 "dict://127.0.0.1:11211/stats", "ws://example.com/"])
def test_only_http_and_https(url, connection_attempts):
    with pytest.raises((OutboundRefused, httpx.UnsupportedProtocol)):
        GuardedClient().get(url)
    with pytest.raises(OutboundRefused, match="only http and https"):
        outbound.check_url(url)
    assert connection_attempts == []


def test_a_redirect_from_an_allowed_host_to_an_internal_one_is_refused(listener, redirector, hosts, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    with GuardedClient(follow_redirects=True, timeout=2) as client:
        for target in internal_urls(listener):
            redirector.location = target
            with pytest.raises(OutboundRefused, match=HINT):
                client.get(f"http://cdn.example.test:{redirector.port}/image.png")
        for status in (301, 303, 307, 308):
            redirector.status, redirector.location = status, f"http://localhost:{listener.port}/"
            with pytest.raises(OutboundRefused):
                client.post(f"http://cdn.example.test:{redirector.port}/hook", content=b"{}")
    assert len(redirector.requests) == len(internal_urls(listener)) + 4  # the allowed hop was made
    assert not listener.reached


def test_redirect_to_a_scheme_other_than_http_is_refused(redirector, hosts, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    redirector.location = "file:///etc/passwd"
    with GuardedClient(follow_redirects=True) as client, pytest.raises(OutboundRefused, match="only http"):
        client.get(f"http://cdn.example.test:{redirector.port}/")


def test_redirects_are_bounded(redirector, hosts, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    redirector.location = f"http://cdn.example.test:{redirector.port}/again"
    with GuardedClient(follow_redirects=True) as client, pytest.raises(httpx.TooManyRedirects):
        client.get(f"http://cdn.example.test:{redirector.port}/")
    assert len(redirector.requests) == outbound.MAX_REDIRECTS + 1


def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected(listener, monkeypatch, settings):
    """DNS rebinding: the first answer passes the check, every later one points inward. The client
    connects to the address it checked and never asks again."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1"]])
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    monkeypatch.setattr(outbound, "resolve", rebinding)
    outside = Listener()
    # The same port as the listener, on another loopback address that the allow-list admits.
    with recording_server(outside, "127.0.0.2", port=listener.port), GuardedClient(timeout=2) as client:
        assert client.get(f"http://rebind.example.test:{listener.port}/").status_code == 200
    assert asked == ["rebind.example.test"] and len(outside.requests) == 1
    assert not listener.reached


def test_allow_list_opens_exactly_the_listed_networks(listener, settings, outbound_hosts):
    outbound_hosts["build.internal.test"] = ["127.0.0.1"]
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.1/32"
    with GuardedClient(timeout=2) as client:
        assert client.get(f"{listener.url}/ok").status_code == 200
        assert client.get(f"http://build.internal.test:{listener.port}/ok").status_code == 200
        with pytest.raises(OutboundRefused, match=r"::1 is a loopback address"):
            client.get(f"{listener.url6}/")
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    with GuardedClient(timeout=2) as client, pytest.raises(OutboundRefused):
        client.get(f"{listener.url}/not-any-more")
    assert [r["path"] for r in listener.requests] == ["/ok", "/ok"]


def test_credentials_stay_with_their_origin(redirector, outbound_hosts, settings):
    """The API key goes to the base URL's host only: not on a redirect to another host, not to an
    absolute URL elsewhere; it does follow a redirect within the same origin."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32", "127.0.0.3/32"]
    outbound_hosts.update({"api.example.test": ["127.0.0.2"], "blobs.example.test": ["127.0.0.3"]})
    other = Listener()
    with recording_server(other, "127.0.0.3") as server:
        elsewhere = f"http://blobs.example.test:{server.server_address[1]}/file.png"
        base = f"http://api.example.test:{redirector.port}"
        secret_headers = {"Authorization": "Bearer sk-SECRET", "X-Api-Key": "sk-SECRET", "Cookie": "session=SECRET"}
        with GuardedClient(base_url=base, headers=secret_headers, follow_redirects=True, timeout=2) as client:
            redirector.status, redirector.location = 307, elsewhere
            client.post("/v1/images", content=b'{"prompt": "x"}', headers={"Content-Type": "application/json"})
            client.get(elsewhere)
        with GuardedClient(base_url=base, auth=httpx.BasicAuth("agency", "hunter2"), follow_redirects=True,
                           timeout=2) as client:
            redirector.status, redirector.location = 302, elsewhere
            client.get("/sdapi/v1/txt2img")
    assert redirector.requests[0]["headers"]["authorization"] == "Bearer sk-SECRET"
    assert redirector.requests[1]["headers"]["authorization"].startswith("Basic ")
    assert len(other.requests) == 3
    for received in other.requests:
        assert not {"authorization", "x-api-key", "cookie"} & set(received["headers"])
        assert received["headers"]["host"] == f"blobs.example.test:{server.server_address[1]}"
    assert other.requests[0]["method"] == "POST" and other.requests[0]["body"] == b'{"prompt": "x"}'  # 307 keeps it


def test_same_origin_redirect_keeps_the_credentials(outbound_hosts, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    outbound_hosts["api.example.test"] = ["127.0.0.2"]
    state = Listener(status=302)
    with recording_server(state, "127.0.0.2") as server:
        base = f"http://api.example.test:{server.server_address[1]}"
        state.location = f"{base}/moved"
        with GuardedClient(base_url=base, headers={"Authorization": "Bearer sk-SECRET"}, follow_redirects=True,
                           max_redirects=1) as client, pytest.raises(httpx.TooManyRedirects):
            client.get("/start")
    assert [r["headers"].get("authorization") for r in state.requests] == ["Bearer sk-SECRET"] * 2


def test_proxy_variables_do_not_route_around_the_guard(listener, redirector, hosts, settings, monkeypatch):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, listener.url)
    redirector.status, redirector.location = 200, ""
    with GuardedClient(timeout=2) as client:
        assert client.get(f"http://cdn.example.test:{redirector.port}/").status_code == 200
    assert not listener.reached and len(redirector.requests) == 1


def _tls_server(cert_pem: bytes, key_pem: bytes, tmp_path, seen: dict) -> ThreadingHTTPServer:
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    def remember_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        seen.setdefault("sni", []).append(name)

    context.sni_callback = remember_sni

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen["host"] = self.headers["Host"]
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _certificate(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_tls_goes_to_the_checked_address_with_the_name_for_sni_host_and_certificate(tmp_path, outbound_hosts,
                                                                                    settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    outbound_hosts["secure.example.test"] = ["127.0.0.2"]
    cert_pem, key_pem = _certificate("secure.example.test")
    seen: dict = {}
    server = _tls_server(cert_pem, key_pem, tmp_path, seen)
    port = server.server_address[1]
    trust = ssl.create_default_context(cadata=cert_pem.decode())
    try:
        with GuardedClient(verify=trust, timeout=3) as client:
            assert client.get(f"https://secure.example.test:{port}/").text == "ok"
            # The certificate is checked for the name, not the address the client connected to.
            outbound_hosts["impostor.example.test"] = ["127.0.0.2"]
            with pytest.raises(httpx.ConnectError, match=r"certificate|hostname"):
                client.get(f"https://impostor.example.test:{port}/")
    finally:
        server.shutdown()
        server.server_close()
    assert seen == {"sni": ["secure.example.test", "impostor.example.test"], "host": f"secure.example.test:{port}"}


def test_entry_time_validation_refuses_with_a_clear_message(listener, settings, outbound_hosts):
    outbound_hosts["hooks.example.test"] = ["10.1.2.3"]
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    for url in [*internal_urls(listener)[:10], "http://hooks.example.test/x", "http://169.254.169.254/"]:
        with pytest.raises(ValidationError) as refused:
            outbound.validate_url(url)
        assert "This URL is refused:" in refused.value.messages[0] and HINT in refused.value.messages[0]
    with pytest.raises(ValidationError, match="only http and https"):
        outbound.validate_url("ftp://files.example.com/")
    outbound.validate_url("https://hooks.slack.com/services/T000/B000/XXX")  # unresolvable here: the call decides
    outbound.validate_url("http://93.184.215.14/")
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    outbound.validate_url(f"{listener.url}/")
    assert not listener.reached


def test_the_allow_list_setting_fails_loudly_on_a_typo(monkeypatch):
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "10.20.0.0/16, 127.0.0.1/33")
    with pytest.raises(ImproperlyConfigured, match=r"127\.0\.0\.1/33"):
        env_networks("OUTBOUND_ALLOWED_NETWORKS")
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "10.20.0.0/16, fd00::/8")
    assert env_networks("OUTBOUND_ALLOWED_NETWORKS") == ["10.20.0.0/16", "fd00::/8"]
    assert outbound.parse_networks("10.20.0.0/16,fd00::/8") == (ipaddress.ip_network("10.20.0.0/16"),
                                                                 ipaddress.ip_network("fd00::/8"))


def test_a_refused_call_carries_no_remote_text(listener, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(OutboundRefused) as refused:
        GuardedClient().get(f"{listener.url}/")
    assert LISTENER_BODY.decode() not in str(refused.value)
    assert not listener.reached
