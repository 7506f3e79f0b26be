"""Pure rules for which subnets an nmap sweep may cover: small, on a configured interface, private unless allowed."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from devices.discovery.matching import DiscoveryError

MAX_PREFIX = 22  # the widest sweep: a /22 (1024 addresses)
DEFAULT_PREFIX = 24  # the default sweep: the /24 of the interface (narrower if the interface's network is)
LOCAL_RANGES = tuple(ipaddress.IPv4Network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local
))


class SweepRefused(DiscoveryError):
    """A sweep that must not run: a subnet too large, not on a configured interface, or public."""


def is_local_range(net: ipaddress.IPv4Network) -> bool:
    """Whether `net` lies wholly inside RFC 1918, loopback or link-local space."""
    return any(net.subnet_of(r) for r in LOCAL_RANGES)


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    """'10.0.0.0/24' (or a bare address, a /32) -> IPv4Network; host bits must be zero-able (strict=False)."""
    try:
        return ipaddress.IPv4Network(text.strip(), strict=False)
    except ValueError as exc:
        raise SweepRefused(f"{text[:60]!r} is not an IPv4 subnet like 192.168.1.0/24") from exc


def check_subnets(subnets: Sequence[str], interfaces: Sequence[str],
                  local: Sequence[ipaddress.IPv4Interface], *,
                  allow_public: bool = False) -> list[ipaddress.IPv4Network]:
    """The subnets to sweep, parsed, or SweepRefused saying why not. `interfaces` are the configured
    interface addresses; `local` the addresses with prefixes that really exist here. Each subnet must be
    at most a /22, lie inside the network of a configured interface that exists here, and be private
    (RFC 1918, loopback, link-local) unless `allow_public`."""
    if not subnets:
        raise SweepRefused("no subnet to sweep")
    configured = set()
    for addr in interfaces:
        try:
            configured.add(ipaddress.IPv4Address(addr))
        except ValueError as exc:
            raise SweepRefused(f"interface {addr[:60]!r} is not an IPv4 address") from exc
    on_link = [i.network for i in local if i.ip in configured]
    out: list[ipaddress.IPv4Network] = []
    for text in subnets:
        net = parse_subnet(text)
        if net.prefixlen < MAX_PREFIX:
            raise SweepRefused(f"{net} has {net.num_addresses} addresses: a sweep covers at most a /{MAX_PREFIX} "
                               f"({2 ** (32 - MAX_PREFIX)} addresses)")
        if not any(net.subnet_of(n) for n in on_link):
            where = ", ".join(str(i) for i in local if i.ip in configured) or "none of them exists here"
            raise SweepRefused(f"{net} is not on a configured interface ({', '.join(interfaces) or 'none'}; "
                               f"networks: {where})")
        if not allow_public and not is_local_range(net):
            raise SweepRefused(f"{net} is public address space: sweeping it needs an explicit allowance")
        if net not in out:
            out.append(net)
    return out


def default_subnet(interface: str, local: Sequence[ipaddress.IPv4Interface]) -> ipaddress.IPv4Network:
    """The sweep proposed for an interface address: its /24, or its own network when that is narrower."""
    try:
        ip = ipaddress.IPv4Address(interface)
    except ValueError as exc:
        raise SweepRefused(f"interface {interface[:60]!r} is not an IPv4 address") from exc
    prefix = max([i.network.prefixlen for i in local if i.ip == ip] + [DEFAULT_PREFIX])
    return ipaddress.IPv4Network(f"{ip}/{prefix}", strict=False)


def in_subnets(host: str, nets: Sequence[ipaddress.IPv4Network]) -> bool:
    """Whether `host` (an IPv4 address) lies in one of `nets`."""
    try:
        ip = ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return any(ip in n for n in nets)
