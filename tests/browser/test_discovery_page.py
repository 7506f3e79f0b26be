"""The Discovery page in chromium (desktop, phone): scan a simulated LAN, add, ignore, learn, approve, rollback."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claw.config import Settings
from claw.runtime import Claw
from claw.serve import ClawServer
from devices.sim.lan import SimLan
from tests.browser.conftest import DESKTOP, PHONE, Collector, Demo, sign_in
from tests.test_learn_adapters import spec_text


def start_lan_claw(data_dir: Path) -> Iterator[Demo]:
    """A claw over the simulated LAN's home, discovering on 127.0.0.1 and keeping only the LAN's /24 (other
    processes' loopback announcements stay out), served on a random port from a thread."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lan = SimLan.load()
    subnet = str(ipaddress.IPv4Network(f"{lan.home.ip_base}/24", strict=False))
    settings = Settings(_env_file=None, data_dir=data_dir, device_timeout=3.0,  # type: ignore[call-arg]
                        discovery={"interfaces": ["127.0.0.1"], "subnets": [subnet], "timeout": 3.0})
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}

    async def main() -> None:
        await lan.start()
        holder["lan"] = lan
        claw = Claw(settings, devices=lan.home.devices)
        holder["server"] = server = ClawServer(settings, claw, port=0)
        holder["claw"] = claw
        await server.serve()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the fixture below
            holder["error"] = exc
        finally:
            if "lan" in holder:
                loop.run_until_complete(lan.stop())

    thread = threading.Thread(target=serve, name="claw-lan", daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while "server" not in holder or not holder["server"].ready.is_set():
        if "error" in holder or time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the claw did not start: {holder.get('error')!r}")
        time.sleep(0.05)
    server: ClawServer = holder["server"]
    host, port = server.server.servers[0].sockets[0].getsockname()[:2]
    demo = Demo(lan.home, holder["claw"], server, loop, url=f"http://{host}:{port}")
    demo.lan = lan  # type: ignore[attr-defined]
    try:
        yield demo
    finally:
        loop.call_soon_threadsafe(server.stop)
        thread.join(30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from start_lan_claw(tmp_path_factory.mktemp("lan") / "data")


def scan_now(page: Any, demo: Demo, *expected: str) -> str:
    """Press Scan now: the button waits with a spinner, then the page shows the scan's result. mDNS over a
    loaded machine's loopback can drop an answer, as on a real LAN: the owner would scan again, and so does
    this, at most three times, until the `expected` addresses are listed."""
    for _ in range(3):
        text = _scan_once(page, demo)
        if all(row(page, address).count() for address in expected):
            break
    return text


def _scan_once(page: Any, demo: Demo) -> str:
    page.goto(f"{demo.url}/discovery")
    form = "document.querySelector('#scan form')"
    # hold the submission once to see the page's waiting state (dash.js runs first), then send it for real
    page.evaluate(f"{form}.addEventListener('submit', function (e) {{ e.preventDefault(); }})")
    assert page.locator("#scan .spinner").is_hidden()
    page.get_by_role("button", name="Scan now").click()
    assert page.locator("#scan .spinner").is_visible()
    assert page.get_by_role("button", name="Scanning…").is_disabled()
    page.evaluate(f"{form}.submit()")
    message = page.locator("#message")
    message.wait_for(timeout=30000)
    text = message.inner_text()
    assert text.startswith("Scanned 127.0.0.1 in"), text
    return text


def row(page: Any, address: str) -> Any:
    return page.locator("tr.entry", has=page.locator("td", has_text=address))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_scan_add_one_and_ignore_another(browser: Any, demo: Demo, collector: Collector,
                                         viewport: dict[str, int]) -> None:
    lan: SimLan = demo.lan  # type: ignore[attr-defined]
    page = sign_in(browser, demo, collector, viewport)
    page.get_by_role("link", name="Discovery").click()
    page.wait_for_url(f"{demo.url}/discovery")
    strip = lan.vendors["desk strip"]
    scan_now(page, demo, *(sim.address for sim in lan.vendors.values()))
    entry = row(page, strip.address)
    assert "wled" in entry.inner_text()
    kitchen = lan.home.http["kitchen light"]
    assert row(page, kitchen.address).get_attribute("data-status") == "added"  # already in the registry
    first = viewport is DESKTOP
    name, room = ("desk strip", "office") if first else ("hall dimmer", "hallway")
    target = lan.vendors[name]
    added = row(page, target.address)
    if added.get_attribute("data-status") == "new":
        added.get_by_label(f"name for {target.address}").fill(f"my {name}")
        added.get_by_label(f"room for {target.address}").fill(room)
        added.get_by_role("button", name="Add").click()
        page.locator("#message", has_text=f"Added “my {name}” in {room}").wait_for()
    assert row(page, target.address).get_attribute("data-status") == "added"
    device = next(d for d in demo.claw.registry.all() if d.name == f"my {name}")
    assert device.room == room
    page.get_by_role("link", name="Home").click()
    page.wait_for_url(f"{demo.url}/home")
    page.locator(f'.device[data-device="{device.id}"]').wait_for()
    # ignore another: it stays ignored, and Unignore brings it back
    other = lan.vendors["porch dimmer" if first else "office blind"]
    page.goto(f"{demo.url}/discovery")
    row(page, other.address).get_by_role("button", name="Ignore").click()
    page.locator("#message", has_text="Ignored").wait_for()
    assert row(page, other.address).get_attribute("data-status") == "ignored"
    assert row(page, other.address).get_by_role("button", name="Add").count() == 0
    scan_now(page, demo, other.address)
    assert row(page, other.address).get_attribute("data-status") == "ignored"
    page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_learn_the_pool_approve_its_draft_and_roll_back(browser: Any, demo: Demo, collector: Collector,
                                                        viewport: dict[str, int]) -> None:
    lan: SimLan = demo.lan  # type: ignore[attr-defined]
    pool = lan.vendors["Pool Controller"]
    store = demo.claw.store
    page = sign_in(browser, demo, collector, viewport)
    scan_now(page, demo, pool.address)
    entry = row(page, pool.address)
    if viewport is DESKTOP:
        assert "unknown" in entry.inner_text() and entry.get_by_role("button", name="Add").count() == 0
        entry.get_by_role("button", name="Learn an adapter").click()
        page.locator("#message", has_text="Drafted adapter").wait_for(timeout=30000)
        [draft] = [v for v in store.adapter_versions() if v["status"] == "draft"]
        card = page.locator(f'section.adapter[data-adapter="{draft["name"]}"]')
        version = card.locator(f'.version[data-version="{draft["version"]}"]')
        text = version.inner_text()
        assert "POST /api/v1/pool/setpoint" in text and "GET /api/v1/status" in text
        assert f"to http://{pool.address} only" in text
        assert store.adapter_current(draft["name"]) is None  # nothing approved before the owner's answer
        version.get_by_role("button", name="Approve").click()
        page.locator("#message", has_text=f"Done: adapter “{draft['name']}” v{draft['version']} is approved").wait_for()
        assert store.adapter_current(draft["name"])["version"] == draft["version"]
        assert any(d.address == pool.address for d in demo.claw.registry.all())
        assert card.locator(f'.version[data-version="{draft["version"]}"]').get_attribute("data-status") == "approved"
        page.context.close()
        return
    # phone: a newer approved version (as a second learning would store), then rolled back from the page
    [approved] = [v for v in store.adapter_versions() if v["status"] == "approved"]
    name = approved["name"]
    newer = store.adapter_version_add(name, spec_text(pool.address, path="spa.setpoint_c", name=name),
                                      source="learned", status="approved", host=pool.address)
    page.goto(f"{demo.url}/discovery#adapters")
    card = page.locator(f'section.adapter[data-adapter="{name}"]')
    assert "(current)" in card.locator(f'.version[data-version="{newer}"]').inner_text()
    card.get_by_role("button", name=f"Roll back to v{approved['version']}").click()
    page.locator("#message", has_text=f"v{approved['version']} is current again").wait_for()
    assert card.locator(f'.version[data-version="{newer}"]').get_attribute("data-status") == "rolled_back"
    assert "(current)" in card.locator(f'.version[data-version="{approved["version"]}"]').inner_text()
    assert store.adapter_current(name)["version"] == approved["version"]
    page.context.close()
