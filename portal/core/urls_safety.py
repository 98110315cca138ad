"""The one place that checks URIs and URLs people give the portal, and the calls made to them.

``check_outgoing_url`` is for an http(s) URL the portal will call (webhook endpoints, price
sources): no user names or passwords, no control characters, no ``..`` path segments in any
encoding, an IP address written the usual way, and a host whose every address is public (not
private, loopback, link-local, shared, reserved or multicast). An IPv6 address is judged with the
IPv4 address it carries (IPv4-mapped, IPv4-compatible, SIIT, 6to4, Teredo, NAT64). The caller's
``*_ALLOW_PRIVATE_HOSTS`` setting (development) lets loopback and private networks through,
written as themselves; link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10,
fd00:ec2::254, 100.100.100.200, ...) are refused in every mode.

``check_artifact_uri`` is for a source the portal reads data from (a run's logged dataset): an
MLflow artifact URI that names no server of its own, or a local path, never with ``..``.

``open_url`` and ``http_connection`` make the call: they resolve the host again and connect only to
an address they checked (a DNS answer can change after the check), ignore ``HTTP(S)_PROXY`` (through
a proxy the target would go unchecked), and end the whole call by a deadline, not only each read, so
a peer that trickles its answer a byte at a time is cut (``DeadlinePassed``). ``open_url`` does not
follow redirects; a redirect comes back as an ``HTTPError`` whose reason says so. Every refusal is
an ``InvalidRequest`` with a sentence that says what to fix.

Calls to outside peers never run inside a database transaction or under a row lock: the caller
claims its work in one short transaction, calls with none open, and records the outcome in another.
"""

from __future__ import annotations

import functools
import http.client
import io
import ipaddress
import re
import socket
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit

from portal.core.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# MLflow artifact URIs the portal reads through its own tracking server.
ARTIFACT_SCHEMES = ("runs", "models", "mlflow-artifacts")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PrivateAddressRefused(Exception):
    """A connection would reach a private, loopback, link-local or reserved address (not an
    ``OSError``, so that no caller retries it as a network failure)."""


def _networks(*cidrs: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Never called, in any mode: link-local networks (where clouds answer with instance credentials)
# and the metadata addresses some clouds keep elsewhere (AWS over IPv6, Alibaba, Oracle, Azure).
NEVER_NETWORKS = _networks(
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
    "192.0.0.192/32",
    "168.63.129.16/32",
)
# What development mode (a ``*_ALLOW_PRIVATE_HOSTS`` setting) may call besides public hosts:
# loopback and private networks, written as themselves.
PRIVATE_NETWORKS = _networks(
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"
)
# IPv6 ranges that carry an IPv4 address in their last 32 bits: IPv4-mapped, IPv4-compatible
# (all of ::/96 but :: and ::1), SIIT (IPv4-translated) and NAT64 (well-known and local-use
# prefixes). 6to4 and Teredo have ``ipaddress`` properties of their own.
EMBEDDING_NETWORKS = _networks(
    "::ffff:0:0/96", "::/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48"
)
# Not global, though some Python versions' ``is_global`` says they are.
NOT_GLOBAL_NETWORKS = _networks(
    "::/96",
    "::ffff:0:0:0/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "fec0::/10",
    "ff00::/8",
)


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (an IPv4 address carries none)."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if int(address) > 1 and any(address in network for network in EMBEDDING_NETWORKS):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why the portal must not call ``address`` (the end of a sentence), or None when it may.

    An IPv6 address is judged with every IPv4 address it carries. ``allow_private`` lets
    loopback and private networks through, written as themselves; link-local and cloud metadata
    addresses are refused whatever it says.
    """
    if any(address in network for network in NEVER_NETWORKS):
        return "is a link-local or cloud metadata address, which the portal never calls"
    for carried in embedded_ipv4(address):
        # Development mode allows loopback and private networks written as themselves only.
        refusal = address_refusal(carried, allow_private=False)
        if refusal is not None:
            return f"carries the IPv4 address {carried}, which {refusal}"
    if allow_private and any(address in network for network in PRIVATE_NETWORKS):
        return None
    if is_public(address):
        return None
    return "is not a public address"


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is global unicast: not private, loopback, link-local, shared,
    reserved, documentation, multicast or unspecified, and carries no IPv4 address that is."""
    if any(address in network for network in NEVER_NETWORKS + NOT_GLOBAL_NETWORKS):
        return False
    if not address.is_global or address.is_multicast:
        return False
    return all(is_public(carried) for carried in embedded_ipv4(address))


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
    if literal is not None:
        addresses = [literal]
    elif allow_private:
        # Development mode looks no names up here (receivers may not be up yet); every call
        # resolves and checks the address it connects to (``open_url``, ``connect_checked``).
        addresses = []
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
        refusal = address_refusal(address, allow_private=allow_private)
        if refusal is None:
            continue
        if literal is None:
            refusal = f"resolves to {address}, which {refusal}"
        if "metadata" in refusal:
            advice = f"use a {what} that is reachable from the internet"
        else:
            advice = (
                f"use a {what} that is reachable from the internet (receivers on a private "
                f"network need the platform team to set {setting})"
            )
        raise InvalidRequest(f"The host '{host}' {refusal}; {advice}.")
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


def connect_checked(
    address: tuple[str, int],
    timeout: Any = None,
    source_address: Any = None,
    *,
    allow_private: bool = False,
) -> socket.socket:
    """``socket.create_connection`` that resolves the host itself and connects only when every
    address it resolves to may be called (``address_refusal``), to the address it checked."""
    host, port = address
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as error:
        raise OSError(f"{host} is not a valid host name: {error}") from None
    checked = []
    for family, kind, proto, _, sockaddr in found:
        peer = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        refusal = address_refusal(peer, allow_private=allow_private)
        if refusal is not None:
            where = (
                f"{host} {refusal}"
                if str(peer) == host
                else f"{host} resolves to {peer}, which {refusal}"
            )
            raise PrivateAddressRefused(f"Not sent: {where}.")
        checked.append((family, kind, proto, sockaddr))
    last_failure: OSError | None = None
    for family, kind, proto, sockaddr in checked:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as failure:
            sock.close()
            last_failure = failure
    raise last_failure or OSError(f"{host} resolves to no address")


# --- Deadlines ------------------------------------------------------------------------------------


class DeadlinePassed(TimeoutError):
    """A call to an outside peer did not finish by its deadline. A ``TimeoutError``, so a caller
    that retries timeouts retries this too."""


def seconds_left(deadline: float) -> float:
    """Seconds until ``deadline`` (a ``time.monotonic()`` value); ``DeadlinePassed`` when none."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlinePassed("the deadline passed")
    return left


class _DeadlineReader(io.RawIOBase):
    """The reading side of a socket: each read waits at most until the deadline (and at most
    ``read_timeout``), so a peer that sends one byte at a time cannot stretch the call."""

    def __init__(self, sock: socket.socket, deadline: float, read_timeout: float | None) -> None:
        super().__init__()
        self._sock, self._deadline, self._read_timeout = sock, deadline, read_timeout

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._sock._decref_socketios()  # type: ignore[attr-defined]
        super().close()

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(_wait(self._deadline, self._read_timeout))
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            seconds_left(self._deadline)  # raises DeadlinePassed when that is why
            raise


def _wait(deadline: float, read_timeout: float | None) -> float:
    left = seconds_left(deadline)
    return min(left, read_timeout) if read_timeout else left


class DeadlineSocket:
    """A connected socket (plain or TLS) whose reads and writes all end by ``deadline``.

    ``http.client`` and ``smtplib`` read through ``makefile("rb")`` and write with ``sendall``;
    both are bounded here, everything else is the socket's own.
    """

    def __init__(self, sock: Any, *, deadline: float, read_timeout: float | None = None) -> None:
        self._sock, self._deadline, self._read_timeout = sock, deadline, read_timeout

    def makefile(self, mode: str = "r", *args: Any, **kwargs: Any) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError("a deadline socket reads in binary only")
        # As ``socket.makefile`` does: closing the socket while the file is open (http.client does
        # for a response that ends the connection) closes it only once the file is closed too.
        self._sock._io_refs += 1  # type: ignore[attr-defined]
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline, self._read_timeout))

    def sendall(self, data: Any, flags: int = 0) -> None:
        # Since Python 3.5 a socket's timeout bounds the whole sendall, not each chunk.
        self._sock.settimeout(_wait(self._deadline, self._read_timeout))
        try:
            self._sock.sendall(data, flags)
        except TimeoutError:
            seconds_left(self._deadline)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _DeadlineConnection:
    """An ``http.client`` connection that ends by ``deadline``: connecting, sending, and reading
    the status line, the headers and the body (a private peer is refused unless allowed)."""

    sock: Any
    timeout: Any

    def __init__(
        self,
        *args: Any,
        deadline: float,
        allow_private: bool,
        read_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.deadline, self.read_timeout = deadline, read_timeout
        # The one hook http.client offers for choosing how to connect; set per instance.
        self._create_connection = functools.partial(connect_checked, allow_private=allow_private)

    def connect(self) -> None:
        # Connecting and the TLS handshake wait at most what is left; a handshake that used it up
        # is cut here rather than at the first read.
        self.timeout = _wait(self.deadline, self.read_timeout)
        super().connect()  # type: ignore[misc]
        seconds_left(self.deadline)
        self.sock = DeadlineSocket(
            self.sock, deadline=self.deadline, read_timeout=self.read_timeout
        )


class _DeadlineHTTPConnection(_DeadlineConnection, http.client.HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnection, http.client.HTTPSConnection):
    pass


def http_connection(
    url: str, *, deadline: float, allow_private: bool
) -> http.client.HTTPConnection:
    """A connection to ``url``'s host whose whole exchange ends by ``deadline``."""
    parts = urlsplit(url)
    connection_class = (
        _DeadlineHTTPSConnection if parts.scheme == "https" else _DeadlineHTTPConnection
    )
    return connection_class(
        parts.hostname or "",
        parts.port,
        deadline=deadline,
        allow_private=allow_private,
    )


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, **connection_args: Any) -> None:
        super().__init__()
        self.connection_args = connection_args

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_DeadlineHTTPConnection, **self.connection_args), req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, **connection_args: Any) -> None:
        super().__init__()
        self.connection_args = connection_args

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            functools.partial(_DeadlineHTTPSConnection, **self.connection_args),
            req,
            context=self._context,  # type: ignore[attr-defined]
        )


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
    request: urllib.request.Request,
    *,
    timeout: float,
    allow_private: bool,
    deadline: float | None = None,
) -> http.client.HTTPResponse:
    """``urllib.request.urlopen`` without redirects and without proxies, connecting only to
    addresses ``address_refusal`` lets through for ``allow_private``.

    ``HTTP_PROXY``/``HTTPS_PROXY`` from the environment are not used: through a proxy, the address
    connected to would be the proxy's, and the target would go unchecked. Each read waits at most
    ``timeout``; the whole call, reading the body included, ends by ``deadline`` (a
    ``time.monotonic()`` value; ``timeout`` from now when not given) with ``DeadlinePassed``.
    """
    connection_args = {
        "deadline": time.monotonic() + timeout if deadline is None else deadline,
        "allow_private": allow_private,
        "read_timeout": timeout,
    }
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirects(),
        _DeadlineHTTPHandler(**connection_args),
        _DeadlineHTTPSHandler(**connection_args),
    )
    return opener.open(request, timeout=timeout)
