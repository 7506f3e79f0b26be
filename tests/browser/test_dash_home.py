"""The dashboard in a real browser, Home and auth: sign-in through the link, live states, controls, a risky
action's confirmation, every page at desktop and phone size, and a refused cross-origin POST."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, Collector, Demo, sign_in

PAGES = ["home", "chat", "cameras", "routines", "memory", "soul", "activity", "status"]


def device_id(demo: Demo, name: str) -> str:
    return next(d.id for d in demo.home.devices if d.name == name)


def card(page: Any, demo: Demo, name: str) -> Any:
    return page.locator(f'.device[data-device="{device_id(demo, name)}"]')


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_renders_with_no_token_anywhere(browser: Any, demo: Demo, collector: Collector,
                                                   viewport: dict[str, int]) -> None:
    page = sign_in(browser, demo, collector, viewport)
    assert "token" not in page.url
    assert page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly: no script can read it
    [cookie] = page.context.cookies()
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict") and demo.token not in cookie["value"]
    urls = [page.url]
    for name in PAGES:
        page.goto(f"{demo.url}/{name}")
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text().lower() == name
        assert demo.token not in page.content(), name
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"] + 1, f"{name} is {width}px wide at {viewport['width']}px"
        urls.append(page.url)
    history = page.evaluate("history.length")
    assert history >= len(PAGES) and not any("token" in u for u in urls)
    page.context.close()


def test_toggle_a_light_and_see_changes_live(browser: Any, demo: Demo, collector: Collector) -> None:
    demo.home.reset()
    page = sign_in(browser, demo, collector)
    light = demo.home.sim("kitchen light")
    kitchen = card(page, demo, "kitchen light")
    state = kitchen.locator(".state")
    page.wait_for_function("el => el.textContent.startsWith('off')", arg=state.element_handle())
    kitchen.get_by_role("button", name="On").click()
    demo.until(lambda: light.state["on"] is True, "the simulated light to switch on")
    page.wait_for_function("el => el.textContent.startsWith('on')", arg=state.element_handle())
    assert page.locator("#toast").inner_text().lower().count("kitchen light") >= 1
    # a change made elsewhere (the device itself) shows in the open page without a reload
    light.change({"on": False})
    page.wait_for_function("el => el.textContent.startsWith('off')", arg=state.element_handle())
    row = demo.claw.store.audit_recent(1)[0]
    assert row["key"].startswith("web:") and row["command"] == "turn_on" and row["status"] == "done"
    page.goto(f"{demo.url}/activity")
    first = page.locator("tr.audit").first
    assert "turn_on kitchen light" in first.inner_text() and "web dashboard" in first.inner_text()
    first.locator("summary").click()
    assert row["key"] in first.inner_text()
    page.context.close()


def test_a_risky_action_asks_and_runs_only_after_confirm(browser: Any, demo: Demo, collector: Collector) -> None:
    demo.home.reset()
    door = demo.home.sim("front door")
    page = sign_in(browser, demo, collector, PHONE)
    front = card(page, demo, "front door")
    front.get_by_role("button", name="Unlock").click()
    box = page.locator("#confirm")
    box.wait_for(state="visible")
    assert "unlock the front door" in box.inner_text().lower()
    assert door.commands == [] and door.state["locked"] is True
    page.get_by_role("button", name="Cancel").click()
    page.locator("#toast").wait_for(state="visible")
    assert door.state["locked"] is True and door.commands == []
    front.get_by_role("button", name="Unlock").click()
    box.wait_for(state="visible")
    page.get_by_role("button", name="Confirm").click()
    demo.until(lambda: door.state["locked"] is False, "the door to unlock after Confirm")
    page.wait_for_function("el => el.textContent.includes('UNLOCKED')",
                           arg=front.locator(".state").element_handle())
    page.context.close()


def test_a_cross_origin_post_is_refused(browser: Any, demo: Demo, collector: Collector) -> None:
    demo.home.reset()
    page = sign_in(browser, demo, collector)
    csrf = page.locator('meta[name="csrf"]').get_attribute("content")
    body = {"device": device_id(demo, "kitchen light"), "command": "turn_on"}
    # the page's own cookie jar, another Origin: refused even with the right CSRF token
    r = page.context.request.post(f"{demo.url}/home/act", data=body,
                                  headers={"Origin": "http://evil.example", "X-CSRF-Token": csrf or ""})
    assert r.status == 403
    # a page on another origin posting a form at the claw: the Strict cookie is not sent, nothing happens
    other = page.context.new_page()
    other.route("http://evil.example/", lambda route: route.fulfill(content_type="text/html", body=(
        f'<form method="post" action="{demo.url}/chat"><input name="text" value="turn on the kitchen light">'
        f'<input name="csrf" value="{csrf}"></form><script>document.forms[0].submit()</script>')))
    with other.expect_response(f"{demo.url}/chat") as answer:
        other.goto("http://evil.example/")
    assert answer.value.status in (401, 403)
    collector.problems.clear()  # the refused POST's own 4xx is the point of this page
    assert demo.home.sim("kitchen light").state["on"] is False
    assert demo.home.sim("kitchen light").commands == []
    page.context.close()


def test_home_paints_known_states_without_the_live_stream_and_a_hidden_page_stops_it(
        browser: Any, demo: Demo, collector: Collector) -> None:
    demo.home.reset()
    live = demo.server.app.state.live
    page = sign_in(browser, demo, collector)  # lands on Home: the live stream reads every device
    state = card(page, demo, "kitchen light").locator(".state")
    page.wait_for_function("el => el.textContent.startsWith('off')", arg=state.element_handle())
    demo.until(lambda: live._watchers, "the page's live stream")
    # hidden (another tab, a phone in a pocket): the page closes its stream and the claw stops reading for it
    page.evaluate("""() => { Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
                             document.dispatchEvent(new Event('visibilitychange')); }""")
    demo.until(lambda: not live._watchers, "the hidden page to close its stream")
    page.evaluate("""() => { Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});
                             document.dispatchEvent(new Event('visibilitychange')); }""")
    demo.until(lambda: live._watchers, "the page to listen again once visible")
    page.context.close()
    # a new page whose live stream never connects (204: EventSource gives up) still shows what the claw knows
    page = sign_in(browser, demo, collector)
    page.route("**/events*", lambda route: route.fulfill(status=204))
    page.goto(f"{demo.url}/home")
    shown = card(page, demo, "kitchen light").locator(".state").inner_text()
    assert shown.startswith("off"), shown
    page.context.close()


def test_a_scene_button_on_home_runs_the_scene(browser: Any, demo: Demo, collector: Collector) -> None:
    demo.home.reset()
    light = device_id(demo, "living room lamp")
    demo.claw.scenes.save("reading", [(light, "turn_on", {}), (light, "set_brightness", {"brightness": 30})])
    try:
        page = sign_in(browser, demo, collector, PHONE)
        page.locator(".scenes").get_by_role("button", name="reading").click()
        page.locator("#toast", has_text="reading").wait_for()
        lamp = demo.home.sim("living room lamp")
        assert lamp.state["on"] is True and lamp.state["brightness"] == 30
        state = card(page, demo, "living room lamp").locator(".state")
        page.wait_for_function("el => el.textContent.startsWith('on · 30%')", arg=state.element_handle())
        page.context.close()
    finally:
        demo.claw.scenes.delete("reading")
