"""Pairing steps of hub adapters (a Hue bridge's link button): obtain the credential, list the devices behind it."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from devices.adapters.spec import AdapterSpec, extract_path
from devices.drivers.http import untrusted_text
from devices.errors import DeviceError
from devices.models import Device

log = logging.getLogger(__name__)

PAIR_SECONDS = 30.0  # how long the owner has to press the button
RETRY_SECONDS = 1.0
MAX_ANSWER_BYTES = 256 * 1024
_CHANNEL = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

Prompt = Callable[[str], Awaitable[None] | None]


class PairingError(DeviceError):
    """Pairing failed: the device refused or answered something else; the message is safe to show."""


class PairingTimeout(PairingError):
    """The owner did not press the button in time (the device kept saying so)."""


@dataclass
class Paired:
    """A paired hub: its id, the credential (kept out of repr) and the devices found behind it."""

    hub_id: str
    credential: str = field(repr=False)
    devices: list[Device] = field(default_factory=list)
    attempts: int = 1


def is_hub(spec: AdapterSpec) -> bool:
    """Whether the spec describes a hub: paired, with its devices driven by another spec."""
    return spec.pair is not None and spec.pair.children is not None


def check_hub(spec: AdapterSpec, specs: dict[str, AdapterSpec]) -> AdapterSpec:
    """The children's (default) spec of a hub, checked, with every spec `children.adapters` may pick, to need
    exactly what the hub provides (AdapterSpecError-free: raises PairingError naming what is wrong)."""
    if spec.pair is None or spec.pair.children is None:
        raise PairingError(f"adapter {spec.name} has no pairing step with devices behind it")
    children = spec.pair.children
    names = [children.adapter] + (sorted(set(children.adapters.map.values())) if children.adapters else [])
    for name in names:
        child = specs.get(name)
        if child is None:
            raise PairingError(f"adapter {spec.name}: its devices' adapter {name!r} is unknown")
        if set(child.needs) != {"credential", "channel"}:
            raise PairingError(f"adapter {child.name} must need credential and channel to drive a device behind "
                               f"{spec.name}")
    return specs[children.adapter]


async def _post(client: httpx.AsyncClient, address: str, spec: AdapterSpec) -> Any:
    assert spec.pair is not None
    try:
        resp = await client.post(f"http://{address}{spec.pair.path}", json=spec.pair.json_body)
    except httpx.TimeoutException:
        raise PairingError(f"{address} did not answer the pairing request in time") from None
    except httpx.HTTPError as exc:
        raise PairingError(f"{address} is not reachable for pairing ({exc.__class__.__name__})") from None
    if resp.status_code != 200 or len(resp.content) > MAX_ANSWER_BYTES:
        raise PairingError(f"{address} answered the pairing request with HTTP {resp.status_code}")
    try:
        return resp.json()
    except ValueError:
        raise PairingError(f"{address} answered the pairing request with something that is not JSON") from None


async def obtain_credential(client: httpx.AsyncClient, spec: AdapterSpec, address: str, *,
                            wait: float = PAIR_SECONDS, retry: float = RETRY_SECONDS,
                            prompt: Prompt | None = None) -> tuple[str, int]:
    """POST the spec's pairing request until the answer holds the credential, for at most `wait` seconds.
    The first refusal calls `prompt` with what the owner must do; returns (credential, attempts)."""
    pair = spec.pair
    if pair is None:
        raise PairingError(f"adapter {spec.name} has no pairing step")
    deadline = time.monotonic() + wait
    attempts = 0
    refusal = ""
    while True:
        attempts += 1
        answer = await _post(client, address, spec)
        credential = extract_path(answer, pair.credential)
        if isinstance(credential, str) and 0 < len(credential) <= 256:
            log.info("%s paired with %s after %d attempt(s)", spec.name, address, attempts)
            return credential, attempts
        said = extract_path(answer, pair.refusal) if pair.refusal else None
        if said is None:
            raise PairingError(f"{address} answered the pairing request without a credential or a reason")
        refusal = untrusted_text(said, 120)
        if attempts == 1 and prompt is not None:
            shown = f"{pair.prompt} (waiting up to {wait:g} s; the device says: {refusal})"
            result = prompt(shown)
            if inspect.isawaitable(result):
                await result
        if time.monotonic() + retry > deadline:
            raise PairingTimeout(f"{spec.name} at {address} was not paired within {wait:g} s: "
                                 f"{pair.prompt}, then try again (the device said: {refusal})")
        await asyncio.sleep(retry)


async def list_children(client: httpx.AsyncClient, spec: AdapterSpec, child: AdapterSpec, address: str,
                        hub_id: str, credential: str, room: str | None = None,
                        specs: dict[str, AdapterSpec] | None = None) -> list[Device]:
    """The devices behind a paired hub, as registry Devices driven by `child`, or by the spec of `specs`
    that `children.adapters` picks for an entry (names and ids are device text: made printable and capped;
    an entry without a usable id or channel is left out)."""
    children = spec.pair.children if spec.pair else None
    if children is None:
        raise PairingError(f"adapter {spec.name} lists no devices behind it")
    path = children.path.replace("{credential}", credential)
    try:
        resp = await client.get(f"http://{address}{path}")
        data = resp.json() if resp.status_code == 200 and len(resp.content) <= MAX_ANSWER_BYTES else None
    except (httpx.HTTPError, ValueError) as exc:
        raise PairingError(f"{address} did not list its devices ({exc.__class__.__name__})") from None
    if isinstance(data, list):  # Hue answers a list of errors (e.g. unauthorized user) with HTTP 200
        entries = {str(i): v for i, v in enumerate(data) if isinstance(v, dict) and "error" not in v}
    elif isinstance(data, dict):
        entries = {str(k): v for k, v in data.items() if isinstance(v, dict)}
    else:
        raise PairingError(f"{address} did not list its devices (HTTP {resp.status_code})")
    devices: list[Device] = []
    for channel, entry in list(entries.items())[:children.max_count]:
        ident = extract_path(entry, children.identity)
        if not _CHANNEL.match(channel) or not isinstance(ident, str | int) or not str(ident).strip():
            log.info("%s: skipped an entry without a usable channel or id", spec.name)
            continue
        name = extract_path(entry, children.name)
        model = extract_path(entry, children.model) if children.model else None
        driven = child
        if children.adapters is not None and specs is not None:
            driven = specs.get(children.adapters.pick(entry, child.name, extract_path), child)
        attrs: dict[str, Any] = {"channel": channel, "paired_with": hub_id}
        if isinstance(model, str):
            attrs["model"] = untrusted_text(model, 64)
        devices.append(Device(
            id=f"uuid:{untrusted_text(str(ident), 64)}",
            name=untrusted_text(name, 64) if isinstance(name, str) and name.strip() else f"{driven.name} {channel}",
            kind=driven.kind, room=room, capabilities=frozenset(str(c) for c in driven.capabilities),
            driver="http", address=address, adapter=driven.name, attrs=attrs))
    return devices


async def pair_hub(spec: AdapterSpec, specs: dict[str, AdapterSpec], address: str, hub_id: str, *,
                   wait: float = PAIR_SECONDS, retry: float = RETRY_SECONDS, prompt: Prompt | None = None,
                   room: str | None = None, timeout: float = 5.0) -> Paired:
    """Pair the hub at `address` (host:port, already fingerprinted as `spec`, identity `hub_id`) and list
    the devices behind it. The caller stores `credential` under `hub_id` (HttpDriver.credentials)."""
    child = check_hub(spec, specs)
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), trust_env=False, follow_redirects=False,
                                 headers={"User-Agent": "homeclaw"}) as client:
        credential, attempts = await obtain_credential(client, spec, address, wait=wait, retry=retry,
                                                       prompt=prompt)
        devices = await list_children(client, spec, child, address, hub_id, credential, room, specs)
    return Paired(hub_id=hub_id, credential=credential, devices=devices, attempts=attempts)


def describe_pairing(paired: Paired) -> str:
    """One line for the owner: what was added (never the credential)."""
    names = ", ".join(d.name for d in paired.devices) or "no devices"
    return f"paired {paired.hub_id}: {len(paired.devices)} device(s) behind it: {names}"


__all__ = ["PAIR_SECONDS", "Paired", "PairingError", "PairingTimeout", "check_hub", "describe_pairing",
           "is_hub", "list_children", "obtain_credential", "pair_hub"]
