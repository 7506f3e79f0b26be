"""The dashboard in a real browser (Debian's chromium through Playwright) against the demo's simulated home.

Usage: python bench/dashboard.py [--loads 5] [--changes 20]
Prints, per page: its weight without images (HTML + CSS + JS as transferred, uncompressed) and first render
(first-contentful-paint after navigation with a warm cache, median of `--loads`); then how long a device change
made at the simulator takes to show in an open Home page (the claw reads states every 0.1 s while a page
listens; SSE pushes the change): p50 / p95 / max over `--changes` changes, from the change to the DOM update.
Then the CPU of the claw's process (which also runs the simulated home, as `claw demo` does) while one Home page
is open and idle, and with no page open, split into the claw's part and the simulators' (their threads, by name:
devices/sim/cpu.py).
Issue targets: a page <= 200 KB without images; first render <= 300 ms; device change -> page <= 200 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from devices.sim.cpu import cpu_split  # noqa: E402
from tests.browser.demo import start_demo  # noqa: E402

PAGES = ["home", "chat", "cameras", "routines", "memory", "soul", "activity", "status"]
WEIGHED = {"document", "stylesheet", "script"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def weigh(page: Any, url: str) -> int:
    """Bytes of the page's HTML and of every stylesheet and script it links (images and the SSE stream left
    out), fetched with the page's own session."""
    html = page.context.request.get(url).body()
    assets = re.findall(rb'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="([^"]+)"', html)
    return len(html) + sum(len(page.context.request.get(urljoin(url, a.decode())).body()) for a in assets)


def first_render(page: Any, url: str) -> float:
    """Milliseconds from navigation start to the first contentful paint."""
    page.goto(url, wait_until="load")
    page.wait_for_function("() => performance.getEntriesByName('first-contentful-paint').length > 0")
    return float(page.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0].startTime"))


def change_latency(page: Any, url: str, device: str, light: str, changes: int) -> list[float]:
    """Milliseconds from a change at the simulated light (through its own HTTP API, as another app or the wall
    switch would) to the Home page showing it."""
    page.goto(f"{url}/home", wait_until="load")
    selector = f'[data-state-of="{device}"]'
    page.wait_for_function("sel => document.querySelector(sel).textContent !== '…'", arg=selector)
    page.evaluate("""sel => {
        window.__seen = [];
        const el = document.querySelector(sel);
        new MutationObserver(() => window.__seen.push([performance.timeOrigin + performance.now(), el.textContent]))
            .observe(el, {childList: true, characterData: true, subtree: true});
    }""", selector)
    out = []
    with httpx.Client(timeout=5) as client:
        for i in range(changes):
            on = i % 2 == 0
            time.sleep(0.3)  # not in step with the claw's reads: changes land anywhere within a read period
            mark = page.evaluate("() => window.__seen.length")
            want = "on" if on else "off"
            t0 = time.time() * 1000
            client.post(f"http://{light}/api/state", json={"on": on}).raise_for_status()
            found = "([mark, want]) => window.__seen.slice(mark).find(s => s[1].startsWith(want))"
            page.wait_for_function(found, arg=[mark, want])
            seen = page.evaluate(f"a => ({found})(a)[0]", [mark, want])
            out.append(float(seen) - t0)
    return out


def control_latency(page: Any, device: str, changes: int) -> list[float]:
    """Milliseconds from a click on the Home page's On / Off button (the click event in the page) to the page
    showing the new state (the POST,
    the claw's actuator and policy, the command, the read it wakes at once, the SSE message)."""
    card = page.locator(f'.device[data-device="{device}"]')
    page.evaluate("""() => document.addEventListener("click",
        () => { window.__clicked = performance.timeOrigin + performance.now(); }, true)""")
    out = []
    for i in range(changes):
        want = "on" if i % 2 == 0 else "off"
        time.sleep(0.3)
        mark = page.evaluate("() => window.__seen.length")
        card.get_by_role("button", name="On" if want == "on" else "Off", exact=True).click()
        found = "([mark, want]) => window.__seen.slice(mark).find(s => s[1].startsWith(want))"
        page.wait_for_function(found, arg=[mark, want])
        out.append(float(page.evaluate(f"a => ({found})(a)[0] - window.__clicked", [mark, want])))
    return out


def states_in_html(page: Any, url: str) -> tuple[int, int]:
    """(devices whose state the Home page's HTML already carries for its first paint, devices on the page)."""
    html = page.context.request.get(f"{url}/home").text()
    known = json.loads(html.split('<script type="application/json" id="states">', 1)[1].split("</script>", 1)[0])
    return len(known), html.count("data-state-of=")


def cpu_share(child: subprocess.Popen[str], seconds: float) -> tuple[float, float]:
    """(claw, simulators): the share of one core each used in the child over `seconds`."""
    assert child.stdin is not None and child.stdout is not None

    def ask() -> dict[str, float]:
        child.stdin.write("cpu\n")
        child.stdin.flush()
        line = child.stdout.readline()
        while line and not line.startswith("{"):  # anything else the child printed meanwhile
            line = child.stdout.readline()
        return json.loads(line)

    before, t0 = ask(), time.monotonic()
    time.sleep(seconds)
    after = ask()
    elapsed = time.monotonic() - t0
    sims = (after["sims"] - before["sims"]) / elapsed
    return (after["total"] - before["total"]) / elapsed - sims, sims


def serve() -> None:
    """The child process: the demo's home and a claw serving it; one JSON line out, then until stdin closes."""
    gen = start_demo(Path(tempfile.mkdtemp(prefix="claw-bench-")) / "data")
    demo = next(gen)
    device = next(d.id for d in demo.home.devices if d.name == "kitchen light")
    light = demo.home.http["kitchen light"].address
    print(json.dumps({"url": demo.url, "token": demo.token, "device": device, "light": light}), flush=True)
    for _ in sys.stdin:  # each line asks for the CPU used so far
        print(json.dumps(cpu_split()), flush=True)
    for _ in gen:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("needs Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # the claw runs in its own process, as `claw demo` does (not sharing this one with the browser's driver)
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, cwd=REPO)
    assert child.stdout is not None and child.stdin is not None
    line = child.stdout.readline()
    while line and not line.startswith("{"):  # after the server's own "claw ready" line
        line = child.stdout.readline()
    demo = json.loads(line)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(f"{demo['url']}/#token={demo['token']}")
            page.wait_for_url(f"{demo['url']}/home")
            print(f"{'page':<10} {'KB (no images)':>15} {'first render ms (median)':>26}")
            worst_kb, worst_ms = 0.0, 0.0
            for name in PAGES:
                url = f"{demo['url']}/{name}"
                kb = weigh(page, url) / 1024
                renders = [first_render(page, url) for _ in range(args.loads)]
                ms = statistics.median(renders)
                worst_kb, worst_ms = max(worst_kb, kb), max(worst_ms, ms)
                print(f"{name:<10} {kb:>15.1f} {ms:>26.0f}")
            print(f"heaviest page {worst_kb:.1f} KB (target <= 200); slowest first render {worst_ms:.0f} ms "
                  "(target <= 300)")
            lat = change_latency(page, demo["url"], demo["device"], demo["light"], args.changes)
            print(f"device change -> open page: p50 {pct(lat, 50):.0f} ms, p95 {pct(lat, 95):.0f} ms, "
                  f"max {max(lat):.0f} ms over {len(lat)} changes (target <= 200)")
            lat = control_latency(page, demo["device"], args.changes)
            print(f"click On/Off -> page shows it: p50 {pct(lat, 50):.0f} ms, p95 {pct(lat, 95):.0f} ms, "
                  f"max {max(lat):.0f} ms over {len(lat)} clicks")
            time.sleep(1)
            claw, sims = cpu_share(child, 10)
            print("CPU while one Home page is open and idle (the HTTP devices read every 0.1 s, the Sonos players "
                  f"every 0.5 s): the claw {claw:.0%} of one core, the simulated home {sims:.0%} (same process, "
                  "its own threads)")
            page.goto("about:blank")
            time.sleep(11)  # the live loops linger 10 s after the last page closes
            claw, sims = cpu_share(child, 5)
            print(f"... and with no page open: the claw {claw:.0%}, the simulated home {sims:.0%}")
            shown, total = states_in_html(page, demo["url"])
            print(f"Home's HTML, 15 s after the last page closed: {shown} of {total} device states in it for the "
                  "first paint (what the claw knows; nothing is read during the request)")
            browser.close()
    finally:
        child.stdin.close()
        child.wait(60)


if __name__ == "__main__":
    main()
