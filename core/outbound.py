"""The guarded outbound HTTP client: every call to a URL that a person typed in goes through it.

A URL entered in a form (a webhook receiver, a generation backend) is an instruction to the server
to open a connection. Unguarded, it reaches what only the server can reach: loopback services,
the cloud metadata endpoint at 169.254.169.254, the private network behind the firewall. Error
texts shown back to the person ("connection refused" here, a banner there) then work as a port
scanner. So this client:

- calls http and https URLs only;
- resolves the host itself, checks *every* address it resolves to and connects to a checked
  address (the name is never looked up a second time, so a DNS answer that changes between the
  check and the connection cannot slip an internal address in); TLS still verifies the
  certificate for the name, and SNI and the Host header carry the name;
- refuses loopback, private, link-local, multicast, reserved, unspecified and other non-global
  addresses, IPv4 and IPv6 alike, including IPv4 carried inside IPv6 (::ffff:127.0.0.1, 6to4,
  Teredo, NAT64) and the legacy IPv4 spellings (2130706433, 0177.0.0.1, 0x7f.1);
- follows redirects itself, a bounded number of times, checking each hop like the first;
- sends credentials (Authorization, API key headers, cookies, basic auth) only to the origin they
  were entered for: a hop or a request to another origin carries only harmless headers;
- ignores proxy variables from the environment, which would route around the check.

Internal targets are reachable only when an operator lists their networks in
`OUTBOUND_ALLOWED_NETWORKS` (comma-separated CIDRs, empty by default).

Because a refused host is never connected to, nothing it could answer ever reaches an error text:
refusals carry only the reason ("refused: 127.0.0.1 is a loopback address; …").
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = ("http", "https")
MAX_REDIRECTS = 5
LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10)
ALLOW_HINT = "set OUTBOUND_ALLOWED_NETWORKS to allow internal targets"
# What may follow a request to another origin: nothing that identifies or authorises the caller.
CROSS_ORIGIN_HEADERS = frozenset({"user-agent", "accept", "accept-encoding", "accept-language", "content-type",
                                  "content-length", "transfer-encoding"})
# Why an address is not public, most specific first (127.0.0.1 is also "private" to Python).
_REASONS = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_site_local", "a site-local address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)
# RFC 6052 NAT64 prefixes: a gateway turns 64:ff9b::7f00:1 into a connection to 127.0.0.1.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class OutboundRefused(httpx.TransportError):
    """The guard would not open this connection; the message says why, and nothing the target
    could have said is in it (it was never contacted)."""


# --- Settings ----------------------------------------------------------------------------------


def parse_networks(value: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs from the setting (a list, or one comma-separated string); a bad one raises ValueError."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if str(item).strip())


@lru_cache(maxsize=8)
def _networks(raw: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_networks(raw)


def allowed_networks() -> tuple[IPNetwork, ...]:
    """The networks internal calls may reach (`OUTBOUND_ALLOWED_NETWORKS`), read on every call so
    that a changed setting applies at once."""
    raw = getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", ()) or ()
    return _networks(tuple(raw.split(",")) if isinstance(raw, str) else tuple(raw))


# --- Addresses ---------------------------------------------------------------------------------


def ip_literal(host: str) -> IPAddress | None:
    """The address a host names by itself, in any spelling a resolver would accept; None for a name.

    `inet_aton` is what the C resolver uses for IPv4, so 2130706433, 0177.0.0.1 and 0x7f.1 come out
    as 127.0.0.1 here exactly as they would on the wire.
    """
    text = host.strip().strip("[]").replace("%25", "%")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if not text or text.endswith(".") or any(c not in "0123456789abcdefxABCDEFX." for c in text):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def _carried(address: IPAddress) -> list[IPAddress]:
    """The address, then any IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64)."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            found.append(address.ipv4_mapped)
        if address.sixtofour:
            found.append(address.sixtofour)
        if address.teredo:
            found.extend(address.teredo)
        if any(address in net for net in _NAT64):
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def internal_reason(address: IPAddress) -> str | None:
    """Why this address is not a public one ("a loopback address"…), or None when it is. An IPv4
    address carried inside an IPv6 one is judged first: it is where the packets end up."""
    carried = _carried(address)
    for candidate in [*carried[1:], carried[0]]:
        for attribute, reason in _REASONS:
            if getattr(candidate, attribute, False):
                return reason
        if not candidate.is_global:  # 100.64.0.0/10 (carrier-grade NAT), 192.0.0.0/24…
            return "not a public address"
    return None


def is_allowed(address: IPAddress) -> bool:
    """Listed in OUTBOUND_ALLOWED_NETWORKS (an IPv4-mapped address counts as its IPv4 address)."""
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        candidates.append(address.ipv4_mapped)
    return any(c.version == net.version and c in net for c in candidates for net in allowed_networks())


def refusal(host: str, address: IPAddress) -> str | None:
    """The refusal text for connecting to `address` (which `host` resolved to), or None if allowed."""
    if is_allowed(address):
        return None
    reason = internal_reason(address)
    if reason is None:
        return None
    shown = str(address)
    inner = [str(a) for a in _carried(address)[1:]]
    if inner:
        shown += f" (IPv4 {inner[0]})"
    if ip_literal(host) is not None:
        return f"refused: {shown} is {reason}; {ALLOW_HINT}"
    return f"refused: {host} resolves to {shown}, {reason}; {ALLOW_HINT}"


def resolve(host: str, port: int) -> list[str]:
    """The addresses a name resolves to. This is the resolver hook: tests replace it to map names
    (monkeypatch `core.outbound.resolve`); everything that connects asks it exactly once."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(host: str, port: int) -> list[str]:
    """Where a connection to host:port may go. Every address the name resolves to must pass: a
    name that answers with one public and one internal address is refused outright, because the
    client cannot know which of them a later connection would meet."""
    literal = ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"{host} could not be resolved") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} could not be resolved")
    for address in addresses:
        reason = refusal(host, address)
        if reason:
            raise OutboundRefused(reason)
    return [str(a) for a in addresses]


def check_url(url: str | httpx.URL) -> None:
    """Raise OutboundRefused for a URL the client would refuse to call: wrong scheme, no host, or a
    host that is (or resolves to) an internal address. A name that does not resolve passes: the
    call itself decides, since DNS can change."""
    parsed = url if isinstance(url, httpx.URL) else _parse(url)
    if parsed.scheme not in SCHEMES:
        raise OutboundRefused(f"refused: only http and https URLs are called, not {parsed.scheme or 'this'!r}")
    if not parsed.host:
        raise OutboundRefused("refused: the URL names no host")
    try:
        checked_addresses(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
    except httpcore.ConnectError:
        return


def validate_url(url: str) -> None:
    """Entry-time check for forms and serializers: the same refusal, as a ValidationError."""
    try:
        check_url(url)
    except OutboundRefused as exc:
        raise ValidationError(str(exc).replace("refused: ", "This URL is refused: ", 1), code="outbound") from exc


def _parse(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        scheme = urlsplit(str(url)).scheme
        if scheme and scheme not in SCHEMES:
            raise OutboundRefused(f"refused: only http and https URLs are called, not {scheme!r}") from exc
        raise OutboundRefused("refused: this is not a valid URL") from exc


# --- Transport ---------------------------------------------------------------------------------


class GuardedNetworkBackend(httpcore.SyncBackend):
    """httpcore's socket layer, opening TCP connections only to checked addresses. httpcore still
    starts TLS with the original name as server_hostname, so the certificate is verified for it."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in checked_addresses(host, port):
            try:
                return super().connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                           socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the guarded socket layer underneath and no proxy from the environment.

    httpx takes no network backend argument, so the connection pool it builds is replaced by an
    equivalent one that has ours (tests/core/test_outbound.py fails if this stops taking effect).
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits = LIMITS) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=GuardedNetworkBackend())


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


def _cross_origin_headers(headers: httpx.Headers) -> httpx.Headers:
    return httpx.Headers([(k, v) for k, v in headers.multi_items() if k.lower() in CROSS_ORIGIN_HEADERS])


class GuardedClient(httpx.Client):
    """An httpx.Client whose every connection is checked, whose redirects are followed here (each
    hop checked, at most `max_redirects`), and whose credentials stay with their origin: the
    base URL's, or else the first request's."""

    def __init__(self, *, base_url: str = "", headers: Mapping[str, str] | None = None,
                 auth: httpx.Auth | None = None, timeout: httpx.Timeout | float = 10.0,
                 follow_redirects: bool = False, max_redirects: int = MAX_REDIRECTS,
                 verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(base_url=base_url, headers=headers, auth=auth, timeout=timeout, trust_env=False,
                         follow_redirects=follow_redirects, max_redirects=max_redirects,
                         transport=GuardedTransport(verify=verify))
        self._credential_origin = _origin(self.base_url) if base_url else None

    def send(self, request: httpx.Request, *, stream: bool = False, auth: Any = httpx.USE_CLIENT_DEFAULT,
             follow_redirects: Any = httpx.USE_CLIENT_DEFAULT) -> httpx.Response:
        follow = follow_redirects if isinstance(follow_redirects, bool) else self.follow_redirects
        home = self._credential_origin or _origin(request.url)
        history: list[httpx.Response] = []
        while True:
            if request.url.scheme not in SCHEMES:
                raise OutboundRefused(f"refused: only http and https URLs are called, not {request.url.scheme!r}",
                                      request=request)
            if _origin(request.url) != home:
                request.headers = _cross_origin_headers(request.headers)
                request.headers["Host"] = request.url.netloc.decode("ascii")
                auth = None
            response = super().send(request, stream=True, auth=auth, follow_redirects=False)
            if not (follow and response.has_redirect_location):
                break
            response.close()
            history.append(response)
            if len(history) > self.max_redirects:
                raise httpx.TooManyRedirects(f"More than {self.max_redirects} redirects.", request=request)
            request = self._next_hop(request, response)
        response.history = history
        if not stream:
            try:
                response.read()
            finally:
                response.close()
        return response

    def _next_hop(self, request: httpx.Request, response: httpx.Response) -> httpx.Request:
        """The request a redirect asks for (RFC 9110 §15.4: 301/302 turn a POST into a GET, 303 turns
        everything but HEAD into a GET, 307/308 repeat the method and body)."""
        try:
            url = request.url.join(response.headers["Location"])
        except httpx.InvalidURL as exc:
            raise httpx.RemoteProtocolError("The redirect location is not a valid URL.", request=request) from exc
        method = request.method
        if (response.status_code == 303 and method != "HEAD") or (response.status_code in (301, 302)
                                                                   and method == "POST"):
            method = "GET"
        headers = httpx.Headers(request.headers)
        headers["Host"] = url.netloc.decode("ascii")
        if method != request.method:
            for name in ("content-length", "content-type", "transfer-encoding"):
                headers.pop(name, None)
            return httpx.Request(method, url, headers=headers, stream=httpx.ByteStream(b""),
                                 extensions=request.extensions)
        return httpx.Request(method, url, headers=headers, stream=request.stream, extensions=request.extensions)
