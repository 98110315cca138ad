"""The one place that checks URIs and URLs people give the portal, and the calls made to them.

``check_outgoing_url`` is for an http(s) URL the portal will call (webhook endpoints, price
sources): no user names or passwords, no control characters, no ``..`` path segments in any
encoding, an IP address written the usual way, and unless private hosts are allowed by the caller's
setting, a host whose every address is public (not private, loopback, link-local, shared,
reserved or multicast, IPv4-mapped IPv6 included).

``check_artifact_uri`` is for a source the portal reads data from (a run's logged dataset): an
MLflow artifact URI that names no server of its own, or a local path, never with ``..``.

``open_url`` makes the call: it refuses a private peer at connect time (a DNS answer can change
after the check) and does not follow redirects; a redirect comes back as an ``HTTPError`` whose
reason says so. Every refusal is an ``InvalidRequest`` with a sentence that says what to fix.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit

from portal.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# MLflow artifact URIs the portal reads through its own tracking server.
ARTIFACT_SCHEMES = ("runs", "models", "mlflow-artifacts")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PrivateAddressRefused(Exception):
    """A connection would reach a private, loopback, link-local or reserved address (not an
    ``OSError``, so that no caller retries it as a network failure)."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or _nat64(address)
        if embedded is not None:
            address = embedded
    # is_global is False for private, loopback, link-local, reserved, shared and unspecified.
    return address.is_global and not address.is_multicast


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def has_traversal(text: str) -> bool:
    """Whether ``text`` has a ``..`` segment, plain, percent-encoded (once or more) or with
    backslashes for slashes."""
    seen = text
    for _ in range(4):
        if any(part.strip() == ".." for part in re.split(r"[/\\]", seen)):
            return True
        decoded = unquote(seen)
        if decoded == seen:
            return False
        seen = decoded
    return True  # encoded four times over: nobody means that


def _refuse_unsafe_text(value: str, *, what: str) -> None:
    if _CONTROL.search(value) or _CONTROL.search(unquote(unquote(value))):
        raise InvalidRequest(f"The {what} contains control characters; remove them.")
    if has_traversal(value):
        raise InvalidRequest(f"The {what} must not contain '..' path segments, in any encoding.")


def _ip_literal(host: str) -> IPAddress | None:
    """The address a host names directly, or None for a name. Refuses the IPv4 forms that only
    some resolvers read (decimal 2130706433, octal 0177.0.0.1, hex 0x7f.1, short 127.1)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if all(_NUMERIC_LABEL.match(label) for label in host.rstrip(".").split(".")):
        raise InvalidRequest(
            f"'{host}' is an IP address in an unusual form; write it as four decimal numbers "
            "(like 203.0.113.7) or use the host's name."
        )
    return None


def check_outgoing_url(url: str, *, allow_private: bool, setting: str, what: str = "URL") -> str:
    """The URL, normalized, if the portal may call it; else ``InvalidRequest`` saying why.

    ``allow_private`` is the caller's switch for receivers on a private network (``setting``
    names it in the refusal).
    """
    url = url.strip()
    _refuse_unsafe_text(url, what=what)
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"}:
        raise InvalidRequest(f"The {what} must start with https:// (or http://).")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise InvalidRequest(f"The {what}'s port must be a number from 1 to 65535.") from None
    if not host:
        raise InvalidRequest(f"The {what} must name a host, like https://hooks.example.com/portal.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidRequest(
            f"Leave user names and passwords out of the {what}; receivers verify the signature "
            "instead."
        )
    literal = _ip_literal(host)
    if allow_private:
        return parts.geturl()
    if literal is not None:
        addresses = [literal]
    else:
        try:
            default_port = 443 if parts.scheme == "https" else 80
            found = socket.getaddrinfo(host, port or default_port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise InvalidRequest(
                f"The host '{host}' could not be found; check the {what}."
            ) from None
        addresses = [ipaddress.ip_address(str(sockaddr[0]).split("%")[0]) for *_, sockaddr in found]
    for address in addresses:
        if not is_public(address):
            raise InvalidRequest(
                f"The host '{host}' resolves to {address}, which is not a public address; "
                f"use a {what} that is reachable from the internet (receivers on a private "
                f"network need the platform team to set {setting})."
            )
    return parts.geturl()


def check_artifact_uri(uri: str, *, what: str = "dataset's source") -> str:
    """``uri`` if it is an MLflow artifact URI without a server of its own, a local path or
    another store's URI (which callers may still refuse); never with ``..`` or a server in it."""
    _refuse_unsafe_text(uri, what=what)
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ARTIFACT_SCHEMES and parts.netloc:
        raise InvalidRequest(
            f"The {what} {uri} names a server ({parts.netloc}); the portal reads artifacts only "
            "through its own MLflow, so use a runs:/, models:/ or mlflow-artifacts:/ URI "
            "without a host."
        )
    if scheme == "file" and parts.netloc not in {"", "localhost"}:
        raise InvalidRequest(
            f"The {what} {uri} names another machine; the portal reads local files only."
        )
    return uri


# --- Calling --------------------------------------------------------------------------------------


def connect_public(
    address: tuple[str, int], timeout: Any = None, source_address: Any = None, **kwargs: Any
) -> socket.socket:
    """``socket.create_connection`` that refuses a private peer before a byte is sent."""
    sock = socket.create_connection(address, timeout, source_address, **kwargs)
    peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    if not is_public(peer):
        sock.close()
        raise PrivateAddressRefused(
            f"Not sent: {address[0]} resolves to {peer}, which is not a public address."
        )
    return sock


class _PublicHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = connect_public  # type: ignore[method-assign]


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = connect_public  # type: ignore[method-assign]


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_PublicHTTPConnection, req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_PublicHTTPSConnection, req)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Answers every redirect with an ``HTTPError`` that says it was not followed."""

    def http_error_302(self, req, fp, code, msg, headers):  # type: ignore[no-untyped-def]
        location = headers.get("Location", "?")
        fp.close()
        raise urllib.error.HTTPError(
            req.full_url,
            code,
            f"(a redirect to {location}, which is not followed; point the portal at the final URL)",
            headers,
            None,
        )

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def open_url(
    request: urllib.request.Request, *, timeout: float, allow_private: bool
) -> http.client.HTTPResponse:
    """``urllib.request.urlopen`` without redirects, and without private peers unless allowed."""
    handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
    if not allow_private:
        handlers += [_PublicHTTPHandler(), _PublicHTTPSHandler()]
    opener = urllib.request.build_opener(*handlers)
    return opener.open(request, timeout=timeout)
