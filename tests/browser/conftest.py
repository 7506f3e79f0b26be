"""Real-browser dashboard tests: Debian's chromium driven by Playwright against a claw serving the demo's simulated
home (on random loopback addresses, in a thread), a collector that fails a test on any console error, page error
or failed request, and screenshots of every open page into test-artifacts/ when a test fails."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.demo import Demo, start_demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
__all__ = ["DESKTOP", "PHONE", "Collector", "Demo", "sign_in"]

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without chromium (CI installs it in .ci/run) these tests are skipped, saying so."""
    if CHROMIUM is not None:
        return
    skip = pytest.mark.skip(reason="Debian's chromium is not installed: apt-get install -y chromium")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options (--headed, --slowmo…) with Debian's chromium: `playwright install`
    cannot download browsers here."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-dev-shm-usage"]}


@pytest.fixture(scope="module")
def browser(browser_type_launch_args: dict[str, Any]) -> Iterator[Any]:
    """One browser per module, and Playwright stopped with it: its sync API holds an event loop on the main
    thread while it runs, which the asyncio tests after these must not find."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(**browser_type_launch_args)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from start_demo(tmp_path_factory.mktemp("demo") / "data")


@dataclass
class Collector:
    """Every console error, page error and failed request of the pages it watches."""

    problems: list[str] = field(default_factory=list)
    pages: list[Any] = field(default_factory=list)
    allowed: list[Callable[[str], bool]] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        self.pages.append(page)
        page.on("console", lambda m: m.type == "error" and self._add(f"console error: {m.text} ({m.location})"))
        page.on("pageerror", lambda e: self._add(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: r.status >= 400 and self._add(f"HTTP {r.status}: {r.request.method} {r.url}"))
        return page

    def _failed(self, request: Any) -> None:
        failure = request.failure or ""
        # an open SSE stream is cut when the page navigates away or closes: that is how EventSource ends
        if request.url.split("?")[0].endswith("/events") and "ERR_ABORTED" in failure:
            return
        self._add(f"request failed: {request.method} {request.url}: {failure}")

    def _add(self, problem: str) -> None:
        if not any(allow(problem) for allow in self.allowed):
            self.problems.append(problem)

    def check(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def collector(request: pytest.FixtureRequest) -> Iterator[Collector]:
    """Fails the test on a console error, page error or failed request; screenshots every page on failure."""
    c = Collector()
    yield c
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in request.node.name)
        for i, page in enumerate(c.pages):
            try:
                if not page.is_closed():
                    page.screenshot(path=str(ARTIFACTS / f"{name}-{i}.png"), full_page=True)
            except Exception:  # noqa: BLE001 - a screenshot must not hide the real failure
                pass
    c.check()


def sign_in(browser: Any, demo: Demo, collector: Collector, viewport: dict[str, int] = DESKTOP) -> Any:
    """A fresh browser context signed in through the printed link; returns its page on /home."""
    context = browser.new_context(viewport=viewport)
    page = collector.watch(context.new_page())
    page.goto(f"{demo.url}/#token={demo.token}")
    page.wait_for_url(f"{demo.url}/home")
    return page
