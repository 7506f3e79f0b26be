"""Simulators keep connections alive as real devices do, yet a stop still ends them; the drivers reuse them."""

from __future__ import annotations

import http.client
import random
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from soco.core import soco_reset

from devices.adapters.spec import builtin_specs
from devices.drivers.http import HttpDriver, device_from_info
from devices.drivers.sonos import SonosDriver, describe
from devices.errors import DeviceTimeout, DeviceUnavailable
from devices.registry import Registry
from devices.sim.cpu import cpu_split
from devices.sim.home import HTTP_SIMS, random_loopback_base
from devices.sim.http_devices import SimLight
from devices.sim.loopback_http import REQUEST_THREAD_PREFIX, SimRequestHandler, finished_request_cpu
from devices.sim.sonos import SonosSimPlayer


@pytest.fixture
def light() -> Iterator[SimLight]:
    sim = SimLight(host=random_loopback_base(), name="desk light").start()
    yield sim
    sim.stop()


@pytest.fixture
def player() -> Iterator[SonosSimPlayer]:
    soco_reset()
    for _ in range(20):
        sim = SonosSimPlayer(f"127.78.{random.randint(1, 254)}.{random.randint(2, 254)}", name="Study")
        try:
            sim.start()
        except OSError:  # address taken by a parallel run: pick another
            continue
        yield sim
        sim.stop()
        soco_reset()
        return
    raise RuntimeError("no free loopback address for a simulated Sonos player")


def _get(conn: http.client.HTTPConnection, path: str = "/api/state") -> http.client.HTTPResponse:
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return response


def test_a_stop_ends_a_kept_alive_connection_at_once(light: SimLight, monkeypatch: pytest.MonkeyPatch) -> None:
    # an idle connection's handler would otherwise wait this long for its next request (and stop() join it)
    monkeypatch.setattr(SimRequestHandler, "timeout", 600)
    conn = http.client.HTTPConnection(light.host, int(light.address.rsplit(":", 1)[1]), timeout=5)
    first, second = _get(conn), _get(conn)
    assert (first.status, second.status, first.version, first.will_close) == (200, 200, 11, False)
    assert light.connections == 1
    port = light.address.rsplit(":", 1)[1]
    light.stop()
    assert not [t for t in threading.enumerate() if t.name == f"{REQUEST_THREAD_PREFIX}-{port}"]
    with pytest.raises(OSError):  # the kept connection was shut: nothing answers on it
        _get(conn)
    conn.close()
    light.start()  # the same port again
    again = http.client.HTTPConnection(light.host, int(port), timeout=5)
    assert _get(again).status == 200
    again.close()


def test_a_request_on_a_kept_connection_during_the_stop_gets_no_answer(light: SimLight) -> None:
    conn = http.client.HTTPConnection(light.host, int(light.address.rsplit(":", 1)[1]), timeout=5)
    assert _get(conn).status == 200
    light.hang = True
    conn.request("POST", "/api/state", body=b'{"on": true}', headers={"Content-Type": "application/json"})
    stopper = threading.Timer(0.2, light.stop)
    stopper.start()
    with pytest.raises(OSError):
        conn.getresponse()
    stopper.join()
    conn.close()
    assert light.state["on"] is False and light.commands == []


async def test_http_driver_reuses_one_connection_and_survives_stop_and_restart(light: SimLight) -> None:
    cls, spec_name = HTTP_SIMS["light"]
    assert cls is SimLight
    device = device_from_info(light.info, light.address, builtin_specs()[spec_name], "study", light.name)
    driver = HttpDriver(timeout=2.0)
    registry = Registry({"http": driver}, timeout=2.0)
    registry.add(device)
    try:
        for _ in range(5):
            assert (await registry.state(device.id))["power"] is False
        assert light.connections == 1
        light.stop()
        with pytest.raises(DeviceUnavailable) as caught:
            await registry.state(device.id)
        assert not isinstance(caught.value, DeviceTimeout)
        light.start()
        light.change({"on": True})
        assert (await registry.state(device.id))["power"] is True
        light.hang = True
        with pytest.raises(DeviceTimeout):
            await registry.state(device.id)
        light.hang = False
        light.change({"on": False})
        assert (await registry.state(device.id))["power"] is False
    finally:
        await driver.close()


@pytest.fixture
async def sonos_driver() -> AsyncIterator[SonosDriver]:
    driver = SonosDriver(request_timeout=2.0, max_workers=2)
    yield driver
    await driver.close()


async def test_sonos_driver_keeps_connections_alive(sonos_driver: SonosDriver, player: SonosSimPlayer) -> None:
    device = describe(player.address)
    registry = Registry({"sonos": sonos_driver}, timeout=3.0)
    registry.add(device)
    before = player.connections
    for _ in range(5):  # four SOAP requests each
        assert (await registry.state(device.id))["volume"] == player.volume
    assert player.connections - before <= 2  # one per worker at most, not one per request
    player.stop()
    with pytest.raises(DeviceUnavailable) as caught:
        await registry.state(device.id)
    assert not isinstance(caught.value, DeviceTimeout)
    player.start()
    player.state.volume = 33
    assert (await registry.state(device.id))["volume"] == 33


def test_request_threads_are_counted_as_the_simulators(light: SimLight) -> None:
    before, counted = cpu_split(), finished_request_cpu()
    host, port = light.address.rsplit(":", 1)
    for _ in range(20):  # a connection each, closed: their threads end
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("GET", "/api/state", headers={"Connection": "close"})
        assert conn.getresponse().read()
        conn.close()
    after = cpu_split()
    assert finished_request_cpu() > counted
    assert after["sims"] - before["sims"] >= finished_request_cpu() - counted
    assert after["total"] >= after["sims"]


def test_soco_requests_go_through_a_session_only_on_the_driver_threads() -> None:
    import requests
    import soco.services
    from soco.utils import prettify

    from devices.drivers import sonos_http

    sonos_http.install()
    assert str(soco.services.prettify("<a><b>1</b></a>")) == prettify("<a><b>1</b></a>")  # debug lines unchanged
    seen: dict[str, object] = {}

    def on_a_thread(attach: bool) -> None:
        session = sonos_http.attach() if attach else None
        real = requests.Session.request

        def spy(self: requests.Session, method: str, url: str, **kwargs: object) -> object:
            seen[threading.current_thread().name] = self
            raise requests.exceptions.ConnectionError("not sent")

        requests.Session.request = spy  # type: ignore[method-assign]
        try:
            with pytest.raises(requests.exceptions.ConnectionError):
                soco.services.requests.post("http://127.0.0.1:9/", data=b"")
        finally:
            requests.Session.request = real  # type: ignore[method-assign]
        seen[threading.current_thread().name + " own"] = session

    for attach in (True, False):
        worker = threading.Thread(target=on_a_thread, args=(attach,), name=f"worker-{attach}")
        worker.start()
        worker.join()
    assert seen["worker-True"] is seen["worker-True own"]  # the thread's own kept-alive session
    assert not seen["worker-True"].trust_env  # type: ignore[attr-defined]  # no proxies from the environment
    assert seen["worker-False own"] is None and isinstance(seen["worker-False"], requests.Session)
    assert seen["worker-False"].trust_env  # a plain requests.post: a throwaway session, as soco does itself
