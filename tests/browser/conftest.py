"""Real-browser dashboard tests: Debian's chromium driven by Playwright against a claw serving the demo's simulated
home (on random loopback addresses, in a thread), a collector that fails a test on any console error, page error
or failed request, and screenshots of every open page into test-artifacts/ when a test fails."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from claw.config import Settings, VisionSettings
from claw.runtime import Claw
from claw.serve import ClawServer, demo_cameras
from devices.sim.home import SimHome, random_loopback_base

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
T = TypeVar("T")



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


@dataclass
class Demo:
    """A claw with the demo's simulated home and cameras, served by uvicorn on a random loopback port."""

    home: SimHome
    claw: Claw
    server: ClawServer
    loop: asyncio.AbstractEventLoop
    url: str = ""

    @property
    def token(self) -> str:
        return self.claw.settings.web_token()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's event loop (the claw's own) and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def until(self, predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def quiet_demo_home(folder: Path) -> Path:
    """The demo's home file without random visitors at the cameras: a test sends its own (camera.visitor())."""
    spec = yaml.safe_load((resources.files("devices.sim") / "default_home.yaml").read_text(encoding="utf-8"))
    for device in spec["devices"]:
        device.pop("visitor_every", None)
    path = folder / "home.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def start_demo(data_dir: Path) -> Iterator[Demo]:
    data_dir.mkdir(parents=True, exist_ok=True)
    home = SimHome.load(quiet_demo_home(data_dir.parent), ip_base=random_loopback_base())
    devices = home.start()
    settings = Settings(_env_file=None, data_dir=data_dir, device_timeout=3.0,  # type: ignore[call-arg]
                        vision=VisionSettings(visit_gap=2.0))
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        claw = Claw(settings, devices=devices, cameras=demo_cameras(home))
        holder["server"] = server = ClawServer(settings, claw, port=0)
        holder["claw"] = claw
        try:
            loop.run_until_complete(server.serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the fixture below
            holder["error"] = exc

    thread = threading.Thread(target=serve, name="claw-demo", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while "server" not in holder or not holder["server"].ready.is_set():
        if "error" in holder or time.monotonic() > deadline:
            home.stop()
            raise RuntimeError(f"the claw did not start: {holder.get('error')!r}")
        time.sleep(0.05)
    server: ClawServer = holder["server"]
    host, port = server.server.servers[0].sockets[0].getsockname()[:2]
    demo = Demo(home, holder["claw"], server, loop, url=f"http://{host}:{port}")
    try:
        yield demo
    finally:
        loop.call_soon_threadsafe(server.stop)
        thread.join(30)
        home.stop()


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
        if request.url.endswith("/events") and "ERR_ABORTED" in failure:
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
