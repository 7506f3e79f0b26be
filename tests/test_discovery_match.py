"""Pure discovery logic: zeroconf hints, probe plans, fingerprint -> adapter, host limits, the match schema."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from devices.adapters.spec import builtin_specs, load_spec, spec_to_dict
from devices.discovery.matching import (
    Found,
    allowed_host,
    match_answers,
    normalise_mac,
    probe_key,
    probe_plan,
    table,
    zeroconf_hits,
)
from devices.errors import AdapterSpecError
from devices.sim.vendor_base import payload

SPECS = builtin_specs()
WLED_INFO = probe_key("/json/info", None)
SHELLY = probe_key("/shelly", None)


def test_zeroconf_hits_need_the_type_and_the_txt_keys() -> None:
    assert zeroconf_hits(SPECS, "_wled._tcp.local.", {"mac": "aabbccddeeff"}) == ["wled"]
    assert zeroconf_hits(SPECS, "_wled._tcp.local.", {}) == []  # TXT key missing
    assert zeroconf_hits(SPECS, "_shelly._tcp.local.", {"gen": "2", "app": "Plus1PM"}) == ["shelly-gen2-switch"]
    assert zeroconf_hits(SPECS, "_shelly._tcp.local.", {"gen": "1"}) == []  # a Gen1 Shelly is not this
    assert zeroconf_hits(SPECS, "_http._tcp.local.", {}) == []


def test_probe_plan_is_deduplicated_and_can_be_narrowed() -> None:
    plan = probe_plan(SPECS)
    assert ("/api/info", {}) in plan and ("/json/info", {}) in plan and ("/cm", {"cmnd": "Status 0"}) in plan
    # five claw-sim specs share /api/info; three Shelly specs share /shelly; + Hue /api/config, Venstar /
    assert len(plan) == len({probe_key(p, q) for p, q in plan}) == 6
    assert probe_plan(SPECS, ["wled"]) == [("/json/info", {})]


def test_match_reads_identity_and_needs_every_key() -> None:
    info = payload("wled", "info")
    name, identity = match_answers(SPECS, {WLED_INFO: info})
    assert name == "wled"
    assert identity == {"mac": "aa:bb:cc:dd:ee:ff", "name": "WLED", "model": "FOSS", "firmware": "0.14.0"}
    del info["leds"]
    assert match_answers(SPECS, {WLED_INFO: info}) == (None, {})
    info = payload("wled", "info") | {"brand": "NotWLED"}
    assert match_answers(SPECS, {WLED_INFO: info}) == (None, {})


def test_a_wrong_mdns_hint_does_not_decide() -> None:
    """A device announcing _wled._tcp but answering as a Shelly is matched by what it answers."""
    answers = {SHELLY: payload("shelly", "device_info")}
    assert match_answers(SPECS, answers, ["wled"])[0] == "shelly-gen2-switch"
    assert match_answers(SPECS, {}, ["wled"]) == (None, {})  # an announcement alone never matches


def test_identity_text_is_capped_and_a_bad_mac_dropped() -> None:
    info = payload("shelly", "device_info") | {"mac": "not-a-mac", "name": "x" * 500 + "\nignore previous"}
    name, identity = match_answers(SPECS, {SHELLY: info})
    assert name == "shelly-gen2-switch" and "mac" not in identity
    assert len(identity["name"]) <= 64 and "\n" not in identity["name"]
    assert Found("127.0.0.1:80", identity=identity).device_id is None


@pytest.mark.parametrize(("text", "mac"), [
    ("AABBCCDDEEFF", "aa:bb:cc:dd:ee:ff"), ("aa-bb-cc-dd-ee-ff", "aa:bb:cc:dd:ee:ff"),
    ("2C:3A:E8:00:11:22", "2c:3a:e8:00:11:22"), ("2C:3A:E8", None), ("zzbbccddeeff", None)])
def test_normalise_mac(text: str, mac: str | None) -> None:
    assert normalise_mac(text) == mac


def test_allowed_hosts_stay_on_the_interfaces() -> None:
    assert allowed_host("127.4.5.2", ["127.0.0.1"])
    assert not allowed_host("10.0.0.7", ["127.0.0.1"]) and not allowed_host("8.8.8.8", ["127.0.0.1"])
    assert allowed_host("192.168.1.40", ["192.168.1.5"]) and not allowed_host("192.168.2.40", ["192.168.1.5"])
    assert not allowed_host("127.0.0.1", ["192.168.1.5"]) and not allowed_host("evil.example", ["127.0.0.1"])


def test_table_lists_unknown_last() -> None:
    rows = table([Found("127.0.0.9:80", via={"probe"}),
                  Found("127.0.0.8:80", identity={"mac": "aa:bb:cc:dd:ee:ff"}, what="WLED", adapter="wled")])
    assert [(r["address"], r["adapter"], r["identity"]) for r in rows] == [
        ("127.0.0.8:80", "wled", "mac:aa:bb:cc:dd:ee:ff"), ("127.0.0.9:80", "unknown", "-")]


def _with_match(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(spec_to_dict(SPECS["wled"]))
    data["match"].update(changes)
    return data


@pytest.mark.parametrize(("changes", "problem"), [
    ({"fields": {}, "keys": []}, "needs `fields` or `keys`"),
    ({"path": "http://10.0.0.1/json/info"}, "must start with a single '/'"),
    ({"path": "//evil.example/x"}, "must start with a single '/'"),
    ({"query": {"cmnd": "{brightness}"}}, "placeholders are not allowed"),
    ({"zeroconf": [{"type": "wled"}]}, "zeroconf"),
    ({"identity": {"password": "mac"}}, "identity"),
    ({"keys": ["a..b"]}, "dotted JSON path"),
])
def test_match_schema_refuses(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(AdapterSpecError, match="match") as err:
        load_spec(_with_match(**changes))
    assert problem in str(err.value)


def test_specs_round_trip_with_their_matchers() -> None:
    for spec in SPECS.values():
        assert load_spec(spec_to_dict(spec)) == spec
