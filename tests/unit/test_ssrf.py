"""SSRF decisions over resolved addresses: every forbidden range, IPv4 and IPv6, and the
allow-list; URL parsing (https only unless allowed, no credentials)."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from mineral_sentinel.notifier.ssrf import Target, check_addresses, parse_target

pytestmark = pytest.mark.unit

FORBIDDEN = {
    "127.0.0.1": "loopback",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "cloud metadata",
    "169.254.1.1": "link-local",
    "100.64.0.1": "carrier-grade NAT",
    "0.0.0.0": "unspecified",
    "224.0.0.1": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.10": "documentation",
    "198.51.100.7": "documentation",
    "203.0.113.9": "documentation",
    "198.18.0.1": "benchmarking",
    "::1": "loopback",
    "::": "unspecified",
    "fd00:ec2::254": "cloud metadata",
    "fd12:3456::1": "unique local",
    "fe80::1": "link-local",
    "ff02::1": "multicast",
    "2001:db8::1": "documentation",
    "64:ff9b::a00:1": "NAT64",
    "::ffff:127.0.0.1": "IPv4-mapped loopback",
    "::ffff:169.254.169.254": "IPv4-mapped cloud metadata",
    "::ffff:10.1.2.3": "IPv4-mapped private",
}


@pytest.mark.parametrize(("address", "reason"), sorted(FORBIDDEN.items()))
def test_forbidden_addresses_are_refused_with_reason(address: str, reason: str) -> None:
    decision = check_addresses([address])
    assert not decision.allowed
    assert reason in decision.reason
    assert decision.addresses == ()


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    decision = check_addresses([address])
    assert decision.allowed and decision.addresses == (address,)


def test_forbidden_addresses_are_dropped_and_only_public_ones_kept() -> None:
    decision = check_addresses(["10.0.0.1", "1.1.1.1", "::1"])
    assert decision.allowed and decision.addresses == ("1.1.1.1",)


def test_no_address_at_all_is_refused() -> None:
    assert not check_addresses([]).allowed


def test_allow_list_admits_loopback_but_not_metadata() -> None:
    allowed = (ip_network("127.0.0.0/8"),)
    assert check_addresses(["127.0.0.1"], allowed).allowed
    assert check_addresses(["::ffff:127.0.0.1"], allowed).allowed
    assert not check_addresses(["169.254.169.254"], allowed).allowed
    assert not check_addresses(["::1"], allowed).allowed
    assert check_addresses(["::1"], (ip_network("::1/128"),)).allowed


def test_parse_target() -> None:
    assert parse_target("https://hooks.example.com/x", False) == Target(
        "https", "hooks.example.com", 443, False
    )
    assert parse_target("http://127.0.0.1:8080/", True) == Target("http", "127.0.0.1", 8080, True)
    assert parse_target("https://[::1]:9/", False) == Target("https", "::1", 9, True)
    assert "https" in str(parse_target("http://hooks.example.com/", False))
    assert "credentials" in str(parse_target("https://u:p@hooks.example.com/", False))
    assert "scheme" in str(parse_target("ftp://hooks.example.com/", True))
    assert "invalid" in str(parse_target("https://h:99999999/", False))
    assert "no host" in str(parse_target("https:///path", False))
