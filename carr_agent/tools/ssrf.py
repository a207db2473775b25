"""The SSRF guard: which URLs the web fetcher may request.

An agent chooses the URLs it opens, and a prompt-injected page can ask it to open
``http://169.254.169.254/`` (cloud credentials) or ``http://localhost:8080/admin``. So only
``http``/``https`` URLs are fetched, and every address a host name resolves to must be a global
unicast address: loopback, private, link-local, shared (CGNAT), reserved, multicast, unspecified
and the cloud metadata endpoints are refused, including IPv4 addresses embedded in IPv6 forms
(mapped, 6to4, Teredo, NAT64). The fetcher connects to the address that was checked, so a DNS
answer that changes between check and connect cannot slip through. Hosts the caller names
explicitly in ``allow_hosts`` skip the address checks (e.g. a local test server).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from carr_agent.errors import BlockedURLError, FetchError

#: Host names of cloud metadata services, refused whatever they resolve to.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata",
                            "instance-data", "instance-data.ec2.internal"})
#: Cloud metadata addresses (most are also link-local or private; listed to name them).
METADATA_IPS = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

#: The IANA special-purpose address registries (IPv4 and IPv6, as of 2025), checked explicitly so
#: the guard does not depend on the Python version's ``is_global`` (3.11 treats 192.0.0.0/24 and
#: fec0::/10 as public). Ranges that wrap an IPv4 address (6to4, Teredo, NAT64) are checked by
#: the embedded address instead, so they are not listed.
SPECIAL_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), what) for net, what in (
        ("0.0.0.0/8", "a 'this network' address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (CGNAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol assignment (192.0.0.0/24)"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay anycast address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("::/96", "an IPv4-compatible IPv6 address (deprecated)"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("100:0:0:1::/64", "a dummy IPv6 prefix"),
        ("2001::/23", "an IETF protocol assignment (2001::/23)"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "an SRv6 SID"),
        ("fc00::/7", "a unique-local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address (deprecated)"),
        ("ff00::/8", "a multicast address"),
    )
)

Resolver = Callable[[str, int], list[str]]
"""``resolver(host, port) -> [ip, ...]``: every address the host resolves to."""


def resolve_host(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to (system resolver, TCP), without IPv6 scope ids.

    Raises:
        FetchError: the name does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {host!r}: {exc}") from exc
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]).split("%", 1)[0], None)
    return list(seen)


def address_problem(ip: str) -> str | None:
    """Why ``ip`` must not be fetched from (e.g. "a loopback address"), or None if it is global."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if addr in METADATA_IPS:
        return "a cloud metadata address"
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour or (addr.teredo[1] if addr.teredo else None)
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_problem(str(embedded))
            if inner:
                return f"an IPv6 form of {embedded}, {inner}"
    for net, what in SPECIAL_NETWORKS:
        if addr.version == net.version and addr in net:
            return what
    for attr, what in (("is_loopback", "a loopback address"), ("is_link_local", "a link-local address"),
                       ("is_multicast", "a multicast address"), ("is_unspecified", "an unspecified address"),
                       ("is_private", "a private address"), ("is_reserved", "a reserved address")):
        if getattr(addr, attr):
            return what
    if not addr.is_global:
        return "not a public address"
    return None


def check_host(host: str, port: int, *, allow_hosts: frozenset[str], resolver: Resolver) -> str | None:
    """Check a URL host; return the address to connect to (None: let the client resolve).

    Raises:
        BlockedURLError: a metadata host name, or any resolved address is not public.
        FetchError: the host does not resolve.
    """
    name = host.lower().rstrip(".")
    if name in allow_hosts:
        return None
    if name in METADATA_HOSTS:
        raise BlockedURLError(f"refusing {host}: a cloud metadata host")
    try:
        ipaddress.ip_address(name)
        addresses = [name]
    except ValueError:
        addresses = resolver(name, port)
    if not addresses:
        raise FetchError(f"cannot resolve host {host!r}")
    for ip in addresses:
        problem = address_problem(ip)
        if problem:
            shown = host if ip == name else f"{host} ({ip})"
            raise BlockedURLError(f"refusing {shown}: {problem}")
    return addresses[0]


__all__ = ["METADATA_HOSTS", "METADATA_IPS", "SPECIAL_NETWORKS", "Resolver", "address_problem",
           "check_host", "resolve_host"]
