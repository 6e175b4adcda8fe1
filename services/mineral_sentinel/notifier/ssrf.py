"""SSRF decisions: may the notifier connect to this URL / these resolved addresses?

Pure: the shell resolves the host name and passes the addresses in; this module decides, with a
reason, and returns the vetted addresses the shell must connect to (never re-resolving, so a DNS
rebinding between check and connect cannot redirect a webhook to an internal address).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import SplitResult, urlsplit

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

_METADATA: tuple[tuple[Address, str], ...] = (
    (ip_address("169.254.169.254"), "cloud metadata address"),
    (ip_address("fd00:ec2::254"), "cloud metadata address"),
)
_FORBIDDEN: tuple[tuple[Network, str], ...] = tuple(
    (ip_network(cidr), reason)
    for cidr, reason in (
        ("0.0.0.0/8", "unspecified/this-network address"),
        ("10.0.0.0/8", "private address"),
        ("100.64.0.0/10", "carrier-grade NAT address"),
        ("127.0.0.0/8", "loopback address"),
        ("169.254.0.0/16", "link-local address"),
        ("172.16.0.0/12", "private address"),
        ("192.0.0.0/24", "reserved (IETF protocol assignments) address"),
        ("192.0.2.0/24", "documentation address"),
        ("192.88.99.0/24", "reserved (6to4 relay) address"),
        ("192.168.0.0/16", "private address"),
        ("198.18.0.0/15", "reserved (benchmarking) address"),
        ("198.51.100.0/24", "documentation address"),
        ("203.0.113.0/24", "documentation address"),
        ("224.0.0.0/4", "multicast address"),
        ("240.0.0.0/4", "reserved address"),
        ("::/128", "unspecified address"),
        ("::1/128", "loopback address"),
        ("::/96", "reserved (IPv4-compatible) address"),
        ("64:ff9b::/96", "NAT64 address"),
        ("64:ff9b:1::/48", "NAT64 address"),
        ("100::/64", "reserved (discard) address"),
        ("2001::/23", "reserved (IETF protocol assignments) address"),
        ("2001:db8::/32", "documentation address"),
        ("2002::/16", "reserved (6to4) address"),
        ("3fff::/20", "documentation address"),
        ("fc00::/7", "unique local address"),
        ("fe80::/10", "link-local address"),
        ("fec0::/10", "reserved (site-local) address"),
        ("ff00::/8", "multicast address"),
    )
)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    addresses: tuple[str, ...] = ()
    """The vetted addresses to connect to (only when allowed)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed webhook URL: what to resolve and how to connect."""

    scheme: str
    host: str
    port: int
    host_is_ip: bool


def forbidden_reason(address: Address, allowed: Sequence[Network] = ()) -> str | None:
    """Why connecting to `address` is refused, or None when it is a public (or allowed) address."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        inner = forbidden_reason(address.ipv4_mapped, allowed)
        return None if inner is None else f"IPv4-mapped {inner}"
    if any(address in network for network in allowed if network.version == address.version):
        return None
    for meta, reason in _METADATA:
        if address == meta:
            return reason
    for network, reason in _FORBIDDEN:
        if network.version == address.version and address in network:
            return reason
    return None


def check_addresses(addresses: Iterable[str], allowed: Sequence[Network] = ()) -> Decision:
    """Keep the public (or allow-listed) addresses; refuse when none is left.

    Like Svix, forbidden addresses are dropped rather than failing the whole name, and the
    connection goes only to what remains.
    """
    kept: list[str] = []
    reasons: list[str] = []
    for text in dict.fromkeys(addresses):
        try:
            address = ip_address(text.split("%", 1)[0])
        except ValueError:
            reasons.append(f"{text}: not an IP address")
            continue
        reason = forbidden_reason(address, allowed)
        if reason is None:
            kept.append(str(address))
        else:
            reasons.append(f"{address}: {reason}")
    if kept:
        return Decision(True, "ok", tuple(kept))
    if not reasons:
        return Decision(False, "host did not resolve to any address")
    return Decision(False, "refused: " + "; ".join(reasons))


def parse_target(url: str, allow_http: bool) -> Target | str:
    """The connection target of a webhook URL, or the reason it is not acceptable."""
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return f"invalid URL: {error}"
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return "URL scheme must be https"
    if scheme == "http" and not allow_http:
        return "URL scheme must be https (http:// is not allowed here)"
    if parts.username is not None or parts.password is not None:
        return "URL must not contain credentials"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "URL has no host"
    if parts.fragment:
        return "URL must not contain a fragment"
    try:
        ip_address(host)
        host_is_ip = True
    except ValueError:
        host_is_ip = False
    return Target(scheme, host, port or (443 if scheme == "https" else 80), host_is_ip)
