"""Which webhook URLs Ladder posts notifications to: http(s) only, never a metadata service.

A policy's ``webhook_urls`` are set through the API by an admin, and Ladder posts
to them from the server: a URL naming a cloud's instance metadata service
(``169.254.169.254`` and its kin) or any link-local address would let a policy
change make the server send requests, with the server's network position, where
its credentials live. So:

* the scheme is ``http`` or ``https`` (no ``file:``, ``ftp:``, ``gopher:`` …), with a host;
* the host is not a metadata service's name (``metadata.google.internal`` …) nor an
  address that is link-local (``169.254.0.0/16``, ``fe80::/10``, including IPv4
  addresses mapped into IPv6), unspecified (``0.0.0.0``, ``::``), multicast, or a
  metadata service's (``fd00:ec2::254``, Alibaba's ``100.100.100.200``);
* when Ladder sends, the host's name is resolved and every address is held to the
  same rule (a name that resolves to a metadata address is refused).

Loopback and private addresses stay allowed: a chat server or a relay on the
same machine or the internal network is a normal place for a webhook.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

SCHEMES = frozenset({"http", "https"})
METADATA_HOSTS = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.internal", "metadata.tencentyun.com",
})
"""Names of cloud instance metadata services."""
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"))
"""Addresses of cloud instance metadata services (AWS, ECS, AWS over IPv6, Alibaba)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_problem(address: IPAddress) -> str | None:
    """Why a webhook may not be sent to ``address``, or None when it may."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata service"
    if address.is_link_local:
        return f"{address} is a link-local address (where metadata services answer)"
    if address.is_unspecified:
        return f"{address} is not an address one can send to"
    if address.is_multicast:
        return f"{address} is a multicast address"
    return None


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be a webhook (scheme, host), or None; no name is resolved."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a port that is not a number is an error here
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme.lower() not in SCHEMES:
        return f"the scheme must be http or https, not {parts.scheme or 'none'!r}"
    if not host:
        return "the URL names no host"
    if host.rstrip(".").lower() in METADATA_HOSTS:
        return f"{host} is a cloud metadata service"
    literal = _literal_address(host)
    return None if literal is None else address_problem(literal)


def _literal_address(host: str) -> IPAddress | None:
    """The address a host names without DNS: IPv6, dotted IPv4, or the shorthand forms the
    C resolver also reads as IPv4 (``2852039166``, ``0xa9fea9fe``, ``169.254.43518``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def check_webhook_url(url: str) -> str:
    """``url`` if it may be a webhook, else ValueError saying why (for validators)."""
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(f"webhook URL refused: {problem}")
    return url


def resolved_problem(url: str) -> str | None:
    """Why ``url`` may not be sent to now, its host's addresses resolved; None if it may.

    A name that does not resolve is left to the HTTP client, which reports it.
    """
    problem = url_problem(url)
    if problem is not None:
        return problem
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            continue
        found = address_problem(address)
        if found is not None:
            return f"{host} resolves to {found}"
    return None


__all__ = ["check_webhook_url", "resolved_problem", "url_problem"]
