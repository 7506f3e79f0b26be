"""The [discovery] settings section, and the default interface (the primary IPv4 address, no packet sent)."""

from __future__ import annotations

import ipaddress
import socket

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DiscoverySettings(BaseModel):
    """[discovery]: where scans may look. Nothing runs unless asked (command, chat) or `schedule` is set."""

    model_config = ConfigDict(extra="forbid")

    interfaces: list[str] = Field(default_factory=list)  # IPv4 addresses; empty: the primary interface's
    # CIDR networks discovery covers: an nmap sweep's range, and (when set) what a scan keeps of what answers
    subnets: list[str] = Field(default_factory=list)
    nmap: bool = False  # an nmap sweep of `subnets` only when the owner allows it
    schedule: str | None = None  # a crontab line ("0 9 * * *"): a scan then, news told to the owner; None: only asked
    timeout: float = Field(1.5, gt=0, le=30)  # seconds to listen for announcements in one scan

    @field_validator("interfaces")
    @classmethod
    def _ipv4(cls, v: list[str]) -> list[str]:
        for addr in v:
            try:
                ipaddress.IPv4Address(addr)
            except ValueError:
                raise ValueError(f"{addr!r} is not an IPv4 interface address") from None
        return v

    @field_validator("subnets")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for net in v:
            try:
                ipaddress.IPv4Network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not an IPv4 network such as 192.168.1.0/24") from None
        return v


    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(v)
        except ValueError as exc:
            raise ValueError(f"schedule {v!r} is not a crontab line such as \"0 9 * * *\": {exc}") from None
        return v


def primary_ipv4() -> str:
    """This machine's primary IPv4 address: the source address the kernel picks for a route out (a UDP
    socket is connected, which sends nothing); 127.0.0.1 when there is no route at all."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect(("192.0.2.1", 9))  # TEST-NET-1: only a route lookup, no packet leaves
        return str(sock.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        sock.close()


def interfaces_of(settings: DiscoverySettings) -> list[str]:
    """The interfaces a scan uses: the configured ones, else the primary interface's address."""
    return list(settings.interfaces) or [primary_ipv4()]


def on_demo_lan(settings: DiscoverySettings, ip_base: str) -> DiscoverySettings:
    """A demo's discovery: on loopback, keeping only its own simulated devices' /24 (other processes'
    simulators announce on the same loopback), which is also what a sweep would cover."""
    subnet = str(ipaddress.IPv4Network(f"{ip_base}/24", strict=False))
    return settings.model_copy(update={"interfaces": ["127.0.0.1"], "subnets": [subnet]})
