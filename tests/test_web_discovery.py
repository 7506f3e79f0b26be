"""The Discovery page over HTTP: owner-only, CSRF/Origin on every POST, add/ignore, adapters, approve, rollback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from claw.learn.chat import LEARN_KIND
from claw.runtime import Claw
from claw.web.app import create_app
from claw.web.auth import COOKIE
from claw.web.dashboard.discovery_view import FIELD_CAP
from devices.models import Device, Kind
from devices.sim.home import random_loopback_base
from devices.sim.pool import SimPool
from tests.test_learn_adapters import spec_text
from tests.test_web_auth import BASE, sign_in

HOSTILE = "<script>alert(1)</script>" + "x" * 400


@pytest.fixture
async def client(claw: Claw) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(claw, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=10) as c:
        yield c


@pytest.fixture
def pool() -> Iterator[SimPool]:
    sim = SimPool(host=random_loopback_base()).start()
    yield sim
    sim.stop()


def seed(claw: Claw) -> None:
    """A last scan of three devices: a WLED strip with an adapter, an unknown gadget with a hostile name, and a
    SUSPECT claimant of a known identity."""
    claw.store.discovered_record([
        {"key": "mac:aa:bb:cc:00:00:01", "identity": "mac:aa:bb:cc:00:00:01", "id_kind": "mac",
         "address": "127.9.9.9:8080", "adapter": "wled", "what": "WLED LED controller", "name": "desk strip",
         "fingerprint": {"ver": "0.14"}, "status": "new", "idx": 1},
        {"key": "addr:127.9.9.9:8090", "identity": None, "id_kind": "address", "address": "127.9.9.9:8090",
         "adapter": None, "what": None, "name": HOSTILE, "fingerprint": {"txt": HOSTILE}, "status": "new", "idx": 2},
        {"key": "serial:x@127.9.9.9:9000", "identity": "serial:x", "id_kind": "serial", "address": "127.9.9.9:9000",
         "adapter": "claw-sim-light", "what": "light", "name": "kitchen light", "fingerprint": {},
         "status": "suspect", "note": "it claims serial x of another device", "idx": 3}])


POSTS: list[tuple[str, dict[str, Any]]] = [
    ("/discovery/scan", {}), ("/discovery/add", {"key": "mac:aa:bb:cc:00:00:01", "name": "desk strip"}),
    ("/discovery/ignore", {"key": "mac:aa:bb:cc:00:00:01"}),
    ("/discovery/unignore", {"key": "serial:x@127.9.9.9:9000"}),
    ("/discovery/learn", {"key": "addr:127.9.9.9:8090"}),
    ("/adapters/decide", {"name": "poolpilot", "version": "3", "verdict": "reject"}),
    ("/adapters/rollback", {"name": "poolpilot", "to": "1"})]


def snapshot(claw: Claw) -> tuple[Any, ...]:
    return ([(r["key"], r["status"]) for r in claw.store.discovered_all()],
            [(r["version"], r["status"]) for r in claw.store.adapter_versions()],
            sorted(d.id for d in claw.registry.all()))


def store_versions(claw: Claw, address: str) -> None:
    claw.store.adapter_version_add("poolpilot", spec_text(address), source="learned", status="approved", host=address)
    claw.store.adapter_version_add("poolpilot", spec_text(address, path="spa.setpoint_c"), source="learned",
                                   status="approved", host=address)
    claw.store.adapter_version_add("poolpilot", spec_text(address), source="learned", status="draft", host=address)


async def test_the_page_and_its_posts_need_a_session(client: httpx.AsyncClient, claw: Claw, pool: SimPool) -> None:
    seed(claw)
    store_versions(claw, pool.address)
    before = snapshot(claw)
    r = await client.get("/discovery")
    assert (r.status_code, r.headers.get("location")) == (303, "/")
    client.cookies.set(COOKIE, "forged.cookie")
    for path, data in POSTS:
        r = await client.post(path, data=data, headers={"Origin": BASE})
        assert r.status_code in (401, 403), (path, r.status_code)
    assert snapshot(claw) == before


async def test_every_post_needs_the_csrf_token_and_the_same_origin(client: httpx.AsyncClient, claw: Claw,
                                                                   pool: SimPool) -> None:
    csrf = await sign_in(client, claw)
    seed(claw)
    store_versions(claw, pool.address)
    before = snapshot(claw)
    refused = [({"Origin": BASE}, {}), ({"Origin": BASE}, {"csrf": csrf + "0"}),
               ({"Origin": "http://evil.example"}, {"csrf": csrf}), ({}, {"csrf": csrf}),
               ({"Referer": "http://evil.example/discovery"}, {"csrf": csrf})]
    for path, data in POSTS:
        for headers, extra in refused:
            r = await client.post(path, data={**data, **extra}, headers=headers)
            assert r.status_code == 403, (path, headers, extra)
    assert snapshot(claw) == before


async def test_entries_show_status_and_why_and_device_text_is_inert(client: httpx.AsyncClient, claw: Claw) -> None:
    await sign_in(client, claw)
    seed(claw)
    page = (await client.get("/discovery")).text
    assert 'href="/discovery" aria-current="page"' in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "x" * (FIELD_CAP + 1) not in page
    strip, gadget, suspect = (page.split(f'data-key="{k}"', 1)[1].split("</tr>", 1)[0]
                              for k in ("mac:aa:bb:cc:00:00:01", "addr:127.9.9.9:8090", "serial:x@127.9.9.9:9000"))
    assert ">Add</button>" in strip and "wled" in strip and ">new<" in strip
    assert "unknown" in gadget and "Learn an adapter" in gadget and ">Add</button>" not in gadget
    assert "SUSPECT" in suspect and "it claims serial x of another device" in suspect
    assert ">Add</button>" not in suspect and "Clear SUSPECT" in suspect


async def test_add_ignore_and_unignore_go_through_the_discovery_service(client: httpx.AsyncClient,
                                                                        claw: Claw) -> None:
    csrf = await sign_in(client, claw)
    seed(claw)
    ok = {"Origin": BASE}
    r = await client.post("/discovery/add", data={"csrf": csrf, "key": "serial:x@127.9.9.9:9000", "name": "evil"},
                          headers=ok)
    assert r.status_code == 303 and "SUSPECT" in httpx.URL(r.headers["location"]).params["message"]
    assert "evil" not in {d.name for d in claw.registry.all()}
    r = await client.post("/discovery/add", data={"csrf": csrf, "key": "mac:aa:bb:cc:00:00:01", "name": "desk strip",
                                                  "room": "office"}, headers=ok)
    assert r.status_code == 303, r.text
    added = next(d for d in claw.registry.all() if d.name == "desk strip")
    assert added.room == "office" and added.adapter == "wled"
    assert claw.store.discovered_get("mac:aa:bb:cc:00:00:01")["status"] == "added"
    assert "desk strip" in (await client.get("/home")).text
    r = await client.post("/discovery/ignore", data={"csrf": csrf, "key": "addr:127.9.9.9:8090"}, headers=ok)
    assert r.status_code == 303 and claw.store.discovered_get("addr:127.9.9.9:8090")["status"] == "ignored"
    said = httpx.URL(r.headers["location"]).params["message"]
    assert said.startswith("Ignored #2") and "x" * 200 not in said  # its announced name, cut
    assert "Unignore" in (await client.get("/discovery")).text.split('data-key="addr:127.9.9.9:8090"')[1]
    r = await client.post("/discovery/unignore", data={"csrf": csrf, "key": "addr:127.9.9.9:8090"}, headers=ok)
    assert r.status_code == 303 and claw.store.discovered_get("addr:127.9.9.9:8090")["status"] == "new"


async def test_adapters_versions_reject_and_rollback(client: httpx.AsyncClient, claw: Claw, pool: SimPool,
                                                     tmp_path: Path) -> None:
    csrf = await sign_in(client, claw)
    store_versions(claw, pool.address)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "spa.yaml").write_text(spec_text(pool.address, name="my-spa"), encoding="utf-8")
    claw.settings.adapters_dir = tmp_path / "mine"
    page = (await client.get("/discovery")).text
    for name in ("wled", "shelly-gen2-switch", "claw-sim-light"):
        assert f'data-adapter="{name}" data-source="shipped"' in page
    assert 'data-adapter="my-spa" data-source="adapters_dir"' in page
    learned = page.split('data-adapter="poolpilot"', 1)[1].split("</section>", 1)[0]
    draft = learned.split('data-version="3"', 1)[1].split('data-version="2"', 1)[0]
    assert "POST /api/v1/pool/setpoint" in draft and f"http://{pool.address} only" in draft
    assert "no longer waiting" in draft and ">Approve</button>" not in draft and ">Reject</button>" in draft
    assert "Roll back to v1" in learned and "Roll back to v2" not in learned
    # Approve of a draft with no pending confirmation is refused, nothing approved
    r = await client.post("/adapters/decide", data={"csrf": csrf, "name": "poolpilot", "version": "3",
                                                    "verdict": "approve"}, headers={"Origin": BASE})
    assert "not awaiting your approval" in httpx.URL(r.headers["location"]).params["message"]
    assert claw.store.adapter_versions("poolpilot")[2]["status"] == "draft"
    r = await client.post("/adapters/decide", data={"csrf": csrf, "name": "poolpilot", "version": "3",
                                                    "verdict": "reject"}, headers={"Origin": BASE})
    assert r.status_code == 303 and claw.store.adapter_versions("poolpilot")[2]["status"] == "rejected"
    r = await client.post("/adapters/rollback", data={"csrf": csrf, "name": "poolpilot", "to": "1"},
                          headers={"Origin": BASE})
    assert "v1 is current again" in httpx.URL(r.headers["location"]).params["message"]
    assert [v["status"] for v in claw.store.adapter_versions("poolpilot")] == ["approved", "rolled_back", "rejected"]
    http = claw._drivers["http"]  # noqa: SLF001 - the running driver uses v1 at once
    assert http.specs["poolpilot"].state[0].extract["target_temperature"].path == "pool.setpoint_c"
    r = await client.post("/adapters/rollback", data={"csrf": csrf, "name": "poolpilot", "to": "1"},
                          headers={"Origin": BASE})
    assert "not earlier" in httpx.URL(r.headers["location"]).params["message"]


def offer(claw: Claw, pool: SimPool, version: int) -> None:
    """The confirmation the learn chat's offer holds for a draft (payload as claw.learn.chat builds it)."""
    device = Device(id=f"learned:{pool.address}", name="pool", kind=Kind.CLIMATE, room=None,
                    capabilities=frozenset({"temperature"}), driver="http", address=pool.address, adapter="poolpilot",
                    attrs={"adapter_trusted": False, "adapter_version": version})
    payload = {"kind": LEARN_KIND, "name": "poolpilot", "version": version, "device": device.to_dict()}
    claw.store.confirmation_add(claw.settings.owner, f"approve the adapter “poolpilot” v{version} and add “pool”",
                                payload, time.time() + 300)


async def test_approve_and_reject_answer_the_chats_own_confirmation(client: httpx.AsyncClient, claw: Claw,
                                                                    pool: SimPool) -> None:
    csrf = await sign_in(client, claw)
    store_versions(claw, pool.address)
    offer(claw, pool, 3)
    draft = (await client.get("/discovery")).text.split('data-adapter="poolpilot"', 1)[1].split('data-version="2"')[0]
    assert "Awaiting your answer" in draft and ">Approve</button>" in draft
    r = await client.post("/adapters/decide", data={"csrf": csrf, "name": "poolpilot", "version": "3",
                                                    "verdict": "reject"}, headers={"Origin": BASE})
    assert r.status_code == 303 and claw.store.adapter_versions("poolpilot")[2]["status"] == "rejected"
    assert claw.store.confirmation_latest(claw.settings.owner)["status"] == "declined"
    claw.store.adapter_version_add("poolpilot", spec_text(pool.address), source="learned", status="draft",
                                   host=pool.address)
    offer(claw, pool, 4)
    r = await client.post("/adapters/decide", data={"csrf": csrf, "name": "poolpilot", "version": "4",
                                                    "verdict": "approve"}, headers={"Origin": BASE})
    said = httpx.URL(r.headers["location"]).params["message"]
    assert said.startswith("Done: adapter “poolpilot” v4 is approved"), said
    assert claw.store.adapter_current("poolpilot")["version"] == 4
    assert claw.store.confirmation_latest(claw.settings.owner)["status"] == "confirmed"
    assert claw.registry.get(f"learned:{pool.address}").name == "pool"
    r = await client.post("/adapters/decide", data={"csrf": csrf, "name": "poolpilot", "version": "4",
                                                    "verdict": "approve"}, headers={"Origin": BASE})
    assert "not awaiting your approval" in httpx.URL(r.headers["location"]).params["message"]
