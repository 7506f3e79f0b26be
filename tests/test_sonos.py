"""The real soco against the simulated Sonos player, and the Sonos driver through the device registry."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import soco
from soco.core import soco_reset
from soco.exceptions import SoCoUPnPException

from devices.drivers.sonos import SonosDriver, describe, match_favorite, sonos_device_from_player
from devices.errors import DeviceTimeout, DeviceUnavailable, InvalidArgument, UnsupportedCommand
from devices.models import Kind
from devices.registry import Registry
from devices.sim.sonos import SonosHousehold, SonosSimPlayer
from devices.sim.sonos_xml import radio_didl, track_didl

MakePlayer = Callable[..., SonosSimPlayer]


@pytest.fixture(autouse=True)
def _fresh_soco() -> Iterator[None]:
    soco_reset()
    yield
    soco_reset()


@pytest.fixture
def make_player() -> Iterator[MakePlayer]:
    """Start simulated players on random 127.77.x.y:1400 addresses; stop them all afterwards."""
    players: list[SonosSimPlayer] = []

    def make(**kwargs: Any) -> SonosSimPlayer:
        for _ in range(20):
            ip = f"127.77.{random.randint(1, 254)}.{random.randint(2, 254)}"
            player = SonosSimPlayer(ip, **kwargs)
            try:
                player.start()
            except OSError:  # address taken by a parallel run: pick another
                continue
            players.append(player)
            return player
        raise RuntimeError("no free loopback address for a simulated Sonos player")

    yield make
    for player in players:
        player.stop()


@pytest.fixture
async def driver() -> AsyncIterator[SonosDriver]:
    """A driver with two workers; request it before make_player so the players stop before it closes."""
    d = SonosDriver(request_timeout=3.0, max_workers=2)
    yield d
    await d.close()


# the real soco against the simulator ---------------------------------------------------------------
def test_soco_plays_pauses_and_skips(make_player: MakePlayer) -> None:
    sim = make_player(name="Den")
    speaker = soco.SoCo(sim.ip)
    assert speaker.player_name == "Den"
    assert speaker.uid == sim.uuid
    assert speaker.is_coordinator

    speaker.play()
    assert speaker.get_current_transport_info()["current_transport_state"] == "PLAYING"
    first = speaker.get_current_track_info()
    assert (first["title"], first["artist"]) == ("So What", "Miles Davis")
    speaker.next()
    assert speaker.get_current_track_info()["title"] == "Take Five"
    speaker.previous()
    speaker.previous()  # wraps round to the end of the queue
    assert speaker.get_current_track_info()["title"] == "Blue in Green"
    speaker.pause()
    assert speaker.get_current_transport_info()["current_transport_state"] == "PAUSED_PLAYBACK"
    speaker.stop()
    assert sim.transport_state == "STOPPED"
    assert sim.actions() == ["Play", "Next", "Previous", "Previous", "Pause", "Stop"]


def test_soco_sets_volume_and_mute(make_player: MakePlayer) -> None:
    sim = make_player()
    speaker = soco.SoCo(sim.ip)
    speaker.volume = 37
    speaker.mute = True
    assert (speaker.volume, speaker.mute) == (37, True)
    assert (sim.volume, sim.muted) == (37, True)
    speaker.volume = 250  # soco clamps
    speaker.mute = False
    assert (speaker.volume, speaker.mute) == (100, False)


def test_soco_lists_favourites_and_plays_one(make_player: MakePlayer) -> None:
    sim = make_player()
    speaker = soco.SoCo(sim.ip)
    favorites = list(speaker.music_library.get_sonos_favorites())
    assert [f.title for f in favorites] == ["Jazz Classics", "Morning News", "Lo-Fi Beats"]
    news = favorites[1]
    speaker.play_uri(news.get_uri(), news.resource_meta_data)
    assert speaker.get_current_track_info()["title"] == "Morning News"
    assert speaker.get_current_media_info()["channel"] == "Morning News"
    assert sim.current["uri"] == news.get_uri()
    assert sim.transport_state == "PLAYING"
    with pytest.raises(SoCoUPnPException):  # radio streams cannot skip, as on a real player
        speaker.next()


def test_unknown_action_is_a_upnp_error(make_player: MakePlayer) -> None:
    speaker = soco.SoCo(make_player().ip)
    with pytest.raises(SoCoUPnPException) as caught:
        speaker.avTransport.send_command("FlyToTheMoon", args=[("InstanceID", 0)])
    assert caught.value.error_code == "401"


def test_speaker_info_comes_from_the_device_description(make_player: MakePlayer) -> None:
    sim = make_player(name="Study", uuid="RINCON_000E58ABCDEF01400")
    info = soco.SoCo(sim.ip).get_speaker_info(timeout=3)
    assert info["zone_name"] == "Study"
    assert info["uid"] == "RINCON_000E58ABCDEF01400"
    assert info["model_name"] == "Sonos One"


def test_players_in_one_household_see_each_other(make_player: MakePlayer) -> None:
    household = SonosHousehold()
    a = make_player(name="Kitchen", household=household)
    b = make_player(name="Bedroom", household=household)
    zones = soco.SoCo(a.ip).visible_zones
    assert sorted(z.player_name for z in zones) == ["Bedroom", "Kitchen"]
    assert all(z.is_coordinator for z in zones)
    assert {z.ip_address for z in zones} == {a.ip, b.ip}


def test_ssdp_discovery_on_loopback(make_player: MakePlayer) -> None:
    household = SonosHousehold()
    try:
        a = make_player(name="Hall", household=household, ssdp=True)
        make_player(name="Garage", household=household, ssdp=True)
    except OSError as exc:  # port 1900 held without SO_REUSEPORT by something else on this machine
        pytest.skip(f"cannot join SSDP on loopback: {exc}")
    zones = soco.discover(timeout=3, interface_addr="127.0.0.1", household_id=household.id)
    assert zones is not None
    assert sorted(z.player_name for z in zones) == ["Garage", "Hall"]
    assert a.ip in {z.ip_address for z in zones}


# the driver ------------------------------------------------------------------------------------------
async def test_describe_builds_a_device(make_player: MakePlayer) -> None:
    sim = make_player(name="Living Room", uuid="RINCON_000E5812345601400")
    device = await sonos_device_from_player(sim.address, room="Lounge")
    assert device.id == "sonos:RINCON_000E5812345601400"
    assert (device.name, device.room, device.kind, device.driver) == ("Living Room", "Lounge", Kind.SPEAKER,
                                                                       "sonos")
    assert device.capabilities == {"media", "power"}
    assert device.address == sim.address
    assert device.attrs["model"] == "Sonos One"
    assert device.attrs["favorites"] == ["Jazz Classics", "Morning News", "Lo-Fi Beats"]


async def test_driver_commands_change_what_soco_reads(driver: SonosDriver, make_player: MakePlayer) -> None:
    sim = make_player()
    device = describe(sim.address)
    registry = Registry(drivers={"sonos": driver}, timeout=5.0)
    registry.add(device)
    speaker = soco.SoCo(sim.ip)

    def transport() -> str:
        return speaker.get_current_transport_info()["current_transport_state"]

    await registry.execute(device.id, "play")
    assert transport() == "PLAYING"
    await registry.execute(device.id, "set_volume", {"volume": 42})
    await registry.execute(device.id, "set_mute", {"muted": "yes"})
    assert (speaker.volume, speaker.mute) == (42, True)
    await registry.execute(device.id, "next")
    assert speaker.get_current_track_info()["title"] == "Take Five"
    await registry.execute(device.id, "previous")
    assert speaker.get_current_track_info()["title"] == "So What"
    await registry.execute(device.id, "turn_off")
    assert transport() == "PAUSED_PLAYBACK"
    assert await registry.state(device.id) == {"playback": "paused", "volume": 42, "muted": True,
                                               "title": "So What", "artist": "Miles Davis", "available": True}
    await registry.execute(device.id, "turn_on")
    assert transport() == "PLAYING"
    await registry.execute(device.id, "stop")
    assert (await registry.state(device.id))["playback"] == "stopped"
    await registry.execute(device.id, "turn_off")  # pausing a stopped player is a no-op, not an error
    assert sim.actions() == ["Play", "SetVolume", "SetMute", "Next", "Previous", "Pause", "Play", "Stop",
                             "Pause"]


async def test_play_favourite_by_partial_name(driver: SonosDriver, make_player: MakePlayer) -> None:
    sim = make_player()
    device = describe(sim.address)
    registry = Registry(drivers={"sonos": driver}, timeout=5.0)
    registry.add(device)
    await registry.execute(device.id, "play_favorite", {"favorite": "jazz"})
    assert soco.SoCo(sim.ip).get_current_track_info()["title"] == "Jazz Classics"
    assert sim.transport_state == "PLAYING"
    assert sim.actions() == ["SetAVTransportURI", "Play"]
    assert await driver.list_favorites(device) == ["Jazz Classics", "Morning News", "Lo-Fi Beats"]

    with pytest.raises(InvalidArgument) as caught:
        await registry.execute(device.id, "play_favorite", {"favorite": "death metal"})
    assert "Jazz Classics" in str(caught.value) and "Lo-Fi Beats" in str(caught.value)
    with pytest.raises(UnsupportedCommand):  # a radio stream cannot skip
        await registry.execute(device.id, "next")
    assert sim.actions() == ["SetAVTransportURI", "Play", "Next"]
    assert sim.current["title"] == "Jazz Classics"


async def test_track_favourite_is_played_through_the_queue(driver: SonosDriver,
                                                           make_player: MakePlayer) -> None:
    uri = "x-file-cifs://nas/music/naima.flac"
    favorites = [
        {"title": "Naima", "uri": uri,
         "metadata": track_didl(item_id="S://nas/music/naima.flac", title="Naima", artist="John Coltrane")},
        {"title": "Radio Swiss Jazz", "uri": "x-rincon-mp3radio://stream.example/jazz",
         "metadata": radio_didl("Radio Swiss Jazz")},
    ]
    sim = make_player(favorites=favorites)
    device = describe(sim.address)
    await driver.execute(device, "play_favorite", {"favorite": "naima"})
    track = soco.SoCo(sim.ip).get_current_track_info()
    assert (track["title"], track["artist"], track["uri"]) == ("Naima", "John Coltrane", uri)
    assert sim.transport_state == "PLAYING"
    assert [t.title for t in soco.SoCo(sim.ip).get_queue()] == ["Naima"]


async def test_player_on_another_port(driver: SonosDriver, make_player: MakePlayer) -> None:
    sim = make_player(port=1401)
    device = describe(sim.address)
    assert device.address.endswith(":1401")
    await driver.execute(device, "set_volume", {"volume": 64})
    assert soco.SoCo(sim.ip, 1401).volume == 64
    assert sim.volume == 64


async def test_hanging_player_times_out_without_blocking_another(driver: SonosDriver,
                                                                 make_player: MakePlayer) -> None:
    # (driver first: the players stop before the driver closes, which releases the stuck worker)
    hung, healthy = make_player(name="Attic"), make_player(name="Kitchen")
    registry = Registry(drivers={"sonos": driver}, timeout=1.0)
    hung_device, healthy_device = describe(hung.address), describe(healthy.address)
    registry.extend([hung_device, healthy_device])
    hung.hang = True

    results = await asyncio.gather(registry.execute(hung_device.id, "play"),
                                   registry.execute(healthy_device.id, "play"), return_exceptions=True)
    assert isinstance(results[0], DeviceTimeout)
    assert results[1] == {}
    assert healthy.transport_state == "PLAYING"
    # the stuck request still holds a worker; new requests to that player are refused instead of queued,
    # so the other player keeps working on a pool of two threads
    for _ in range(3):
        with pytest.raises(DeviceTimeout):
            await registry.execute(hung_device.id, "pause")
    await registry.execute(healthy_device.id, "set_volume", {"volume": 12})
    states = await registry.states([hung_device.id, healthy_device.id])
    assert states[hung_device.id]["available"] is False
    assert states[healthy_device.id]["volume"] == 12
    assert hung.actions() == []


async def test_stopped_player_is_unavailable(driver: SonosDriver, make_player: MakePlayer) -> None:
    sim = make_player()
    device = describe(sim.address)
    registry = Registry(drivers={"sonos": driver}, timeout=5.0)
    registry.add(device)
    sim.stop()
    with pytest.raises(DeviceUnavailable) as caught:
        await registry.execute(device.id, "play")
    assert not isinstance(caught.value, DeviceTimeout)
    with pytest.raises(DeviceUnavailable):
        describe(sim.address, timeout=2.0)


async def test_two_players_at_once(driver: SonosDriver, make_player: MakePlayer) -> None:
    a, b = make_player(name="Kitchen"), make_player(name="Bedroom")
    registry = Registry(drivers={"sonos": driver}, timeout=5.0)
    da, db = describe(a.address), describe(b.address)
    registry.extend([da, db])
    assert da.id != db.id
    await asyncio.gather(registry.execute(da.id, "set_volume", {"volume": 10}),
                         registry.execute(db.id, "set_volume", {"volume": 90}),
                         registry.execute(da.id, "play"),
                         registry.execute(db.id, "play_favorite", {"favorite": "lo fi"}))
    assert (soco.SoCo(a.ip).volume, soco.SoCo(b.ip).volume) == (10, 90)
    states = await registry.states([da.id, db.id])
    assert (states[da.id]["title"], states[db.id]["title"]) == ("So What", "Lo-Fi Beats")
    assert states[da.id]["playback"] == states[db.id]["playback"] == "playing"


async def test_driver_leaves_no_worker_threads(make_player: MakePlayer) -> None:
    sim = make_player()
    d = SonosDriver(request_timeout=3.0)
    await d.execute(describe(sim.address), "play", {})
    await d.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("sonos_") and t.is_alive()]


@pytest.mark.parametrize(("query", "expected"), [
    ("Jazz Classics", "Jazz Classics"), ("jazz", "Jazz Classics"), ("LOFI", "Lo-Fi Beats"),
    ("lo-fi", "Lo-Fi Beats"), ("the morning news please", "Morning News"), ("mornin nwes", "Morning News"),
])
def test_match_favorite(query: str, expected: str) -> None:
    assert match_favorite(query, ["Jazz Classics", "Morning News", "Lo-Fi Beats"]) == expected


def test_match_favorite_refuses_unclear_names() -> None:
    with pytest.raises(InvalidArgument, match="several"):
        match_favorite("news", ["Morning News", "Evening News"])
    with pytest.raises(InvalidArgument, match="available: Morning News, Evening News"):
        match_favorite("opera", ["Morning News", "Evening News"])
    with pytest.raises(InvalidArgument, match="no Sonos favourites"):
        match_favorite("jazz", [])
