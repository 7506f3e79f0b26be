"""`claw pair device HOST:PORT`: pair a hub found by `claw discover` (a Hue bridge's link button), add its devices."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from claw.cli.common import fail, run_or_exit, settings_or_exit

CREDENTIALS_FILE = "device_credentials.json"  # in the data dir, mode 0600; read by the claw's HTTP driver


def pair_device_command(
    address: Annotated[str, typer.Argument(help="host:port of the hub, as `claw discover` shows it.")],
    room: Annotated[str | None, typer.Option(help="Room of the devices behind it.")] = None,
    wait: Annotated[float, typer.Option(min=1.0, max=120.0, help="Seconds to wait for the button.")] = 30.0,
) -> None:
    """Pair a hub (Hue bridge): you press its button, the claw stores the credential it hands out (a secret,
    never printed) and adds the devices behind it; restart a running claw to load them."""
    host, _, port = address.rpartition(":")
    try:
        ipaddress.IPv4Address(host)
        if not 0 < int(port) < 65536:
            raise ValueError(port)
    except ValueError:
        fail(f"{address!r} is not an IPv4 host:port")
    settings = settings_or_exit()
    settings.ensure_data_dir()
    names, hub = run_or_exit(_pair(address, room, wait, settings.data_dir / CREDENTIALS_FILE, settings.db_path))
    typer.echo(f"paired {hub}: added {', '.join(names) or 'no devices'} (restart a running claw to use them)")


async def _pair(address: str, room: str | None, wait: float, credentials_path: Path,
                db_path: Path) -> tuple[list[str], str]:
    from devices.adapters.credentials import CredentialStore
    from devices.adapters.pairing import PairingError, is_hub, pair_hub
    from devices.adapters.spec import builtin_specs
    from devices.discovery.matching import Found, match_answers, probe_plan
    from devices.discovery.probe import probe, probe_client
    from memory.store import Store

    specs = builtin_specs()
    hubs = {n: s for n, s in specs.items() if is_hub(s)}
    async with probe_client() as client:  # GET only, this one host
        record = await probe(client, address, probe_plan(hubs))
    name, identity = match_answers(hubs, record.answers)
    hub_id = Found(address, identity=identity).device_id
    if name is None or hub_id is None:
        fail(f"{address} is not a hub the claw can pair (known: {', '.join(hubs) or 'none'})", 1)

    def ask(prompt: str) -> None:
        typer.echo(f"{prompt[:1].upper()}{prompt[1:]}")

    try:
        paired = await pair_hub(specs[name], specs, address, hub_id, wait=wait, prompt=ask, room=room)
    except PairingError as exc:
        fail(exc, 1)
    CredentialStore(credentials_path).set(paired.hub_id, paired.credential)
    store = Store(db_path)
    try:
        store.devices_sync([(d.to_dict(), "pairing") for d in paired.devices])
    finally:
        store.close()
    return [d.name for d in paired.devices], paired.hub_id
