"""The dashboard in a real browser, the other pages: chat with tier and actions, soul edit with diff and revert,
a routine run now, a camera event with its picture, memory forget, status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from claw.events import InboundMessage
from tests.browser.conftest import PHONE, Collector, Demo, sign_in


async def _create_routine(demo: Demo) -> int:
    routine = demo.claw.routines.create({"name": "hall on", "when": "07:00", "steps": ["hallway light:turn_on"]})
    return routine.id


def test_chat_reply_shows_its_tier_and_device_action(browser: Any, demo: Demo, collector: Collector) -> None:
    demo.home.reset()
    page = sign_in(browser, demo, collector)
    page.goto(f"{demo.url}/chat")
    page.get_by_label("message").fill("turn on the bedroom light")
    page.get_by_role("button", name="Send").click()
    reply = page.locator(".msg.claw").last
    reply.wait_for()
    assert demo.home.sim("bedroom light").state["on"] is True
    text = reply.inner_text()
    assert "bedroom light" in text and "tier: intent" in text and "turn_on bedroom light (done)" in text
    reply.locator("summary").click()
    assert "ledger row" in reply.inner_text()
    assert page.locator(".msg.me").last.inner_text().startswith("turn on the bedroom light")
    # a message on another channel shows up in the open page by itself
    demo.call(demo.claw.agent.ask(InboundMessage("console", demo.claw.settings.owner, "turn off the bedroom light",
                                                 standing="owner")))
    page.locator(".msg.me", has_text="turn off the bedroom light").wait_for(timeout=10000)
    assert "console" in page.locator(".msg.me").last.inner_text()
    page.context.close()


def test_soul_edit_shows_a_diff_then_saves_and_reverts(browser: Any, demo: Demo, collector: Collector) -> None:
    page = sign_in(browser, demo, collector, PHONE)
    page.goto(f"{demo.url}/soul")
    before = demo.claw.soul.current()
    box = page.get_by_label("soul.md")
    box.fill(box.input_value() + "\nAlways mention the weather.\n")
    page.get_by_role("button", name="Show the changes").click()
    added = page.locator("#diff .add", has_text="Always mention the weather.")
    added.wait_for()
    assert demo.claw.soul.current().text == before.text  # nothing written before Save
    page.get_by_role("button", name="Save this version").click()
    page.wait_for_url(f"{demo.url}/soul")
    after = demo.claw.soul.current()
    assert "Always mention the weather." in after.text and after.version_id != before.version_id
    assert "Always mention the weather." in demo.claw.settings.soul_file.read_text()
    row = page.locator(f'tr.version[data-version="{before.version_id}"]')
    row.get_by_role("button", name="Revert to this").click()
    page.wait_for_url(f"{demo.url}/soul")
    reverted = demo.claw.soul.current()
    assert reverted.text == before.text and reverted.version_id not in (before.version_id, after.version_id)
    assert page.locator("tr.version").first.inner_text().split("\t")[2].strip() == "revert"
    page.context.close()


def test_a_routine_shows_its_next_runs_and_runs_now(browser: Any, demo: Demo, collector: Collector) -> None:
    demo.home.reset()
    routine_id = demo.call(_create_routine(demo))
    page = sign_in(browser, demo, collector)
    page.goto(f"{demo.url}/routines")
    section = page.locator(f'.routine[data-routine="{routine_id}"]')
    assert section.locator("p.muted").inner_text().count("·") == 2  # the next three runs
    section.get_by_role("button", name="Run now").click()
    page.locator("#message", has_text="Started").wait_for()
    demo.until(lambda: demo.home.sim("hallway light").state["on"] is True, "the routine's step")
    demo.until(lambda: demo.claw.routines.history(routine_id)[0]["status"] == "done", "the run to finish")
    page.reload()
    run = page.locator(f'.routine[data-routine="{routine_id}"] li.run').first
    assert run.get_attribute("data-status") == "done"
    page.goto(f"{demo.url}/activity")  # the routine's action, attributed to it
    assert "routine “hall on”" in page.locator("tr.audit", has_text="hallway light").first.inner_text()
    page.goto(f"{demo.url}/routines")
    section.get_by_role("button", name="Pause").click()
    page.locator("#message", has_text="Paused").wait_for()
    assert "(paused)" in page.locator(f'.routine[data-routine="{routine_id}"] h2').inner_text().lower()
    page.context.close()


def test_a_camera_event_appears_with_its_picture(browser: Any, demo: Demo, collector: Collector) -> None:
    page = sign_in(browser, demo, collector)
    page.goto(f"{demo.url}/cameras")
    live = page.locator("img[data-live]").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=live.element_handle(), timeout=15000)
    known = {e["id"] for e in demo.claw.store.camera_events(limit=100)}
    [camera] = demo.home.cameras.values()
    camera.visitor()
    new = demo.until(lambda: [e for e in demo.claw.store.camera_events(limit=100) if e["id"] not in known],
                     "the visit's event", timeout=30)
    event = page.locator(f'.event[data-event="{new[0]["id"]}"]')
    event.wait_for(timeout=15000)  # the page reloads itself on the SSE "camera" event
    picture = event.locator("img").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    event.locator("summary").click()
    assert "alerted" in event.inner_text() or "suppressed" in event.inner_text()
    assert new[0]["alert"] == 1  # the module's first visit: no cooldown yet
    page.goto(f"{demo.url}/chat")  # the alert went to the web chat too, with its picture
    notice = page.locator(".msg.notice", has_text="front door").last
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=notice.locator("img").first.element_handle())
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    page.goto(f"{demo.url}/cameras?day={yesterday}&to={yesterday}")
    assert page.locator(".event").count() == 0 and "No event in this range" in page.content()
    page.goto(f"{demo.url}/cameras?day={yesterday}")  # a range of days, up to today
    page.goto(f"{demo.url}/cameras?day={dt.date.today().isoformat()}&at=00:00")
    assert page.locator(f'.event[data-event="{new[0]["id"]}"]').count() == 1
    page.context.close()


def test_memory_forget_and_status(browser: Any, demo: Demo, collector: Collector) -> None:
    fact = demo.claw.store.fact_add("the spare key is under the blue pot", "owner", sender="console")
    page = sign_in(browser, demo, collector, PHONE)
    page.goto(f"{demo.url}/memory")
    row = page.locator(f'tr.fact[data-fact="{fact}"]')
    assert "blue pot" in row.inner_text() and "owner" in row.inner_text()
    row.get_by_role("button", name="Forget").click()
    page.wait_for_url(f"{demo.url}/memory")
    assert page.locator(f'tr.fact[data-fact="{fact}"]').count() == 0
    assert all("blue pot" not in f["text"] for f in demo.claw.store.fact_list(100))
    demo.call(demo.claw.agent.ask(InboundMessage("web", demo.claw.settings.owner, "what's the temperature in the "
                                                 "hallway", standing="owner")))
    page.goto(f"{demo.url}/status")
    devices = len(demo.claw.registry.all())
    assert f"{devices} of {devices} online" in page.locator("#online").inner_text()
    assert "camera snapshots" in page.locator("#snapshots").inner_text()
    web = page.locator("li.channel", has_text="web:").inner_text()
    assert " in (last " in web and (" sent" in web or " pending" in web)
    page.context.close()
