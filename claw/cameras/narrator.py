"""Captions of alerted visits off the event loop: after the alert, bounded by a timeout, near-duplicates dropped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from claw.cameras.caption import Caption, Captioner, CaptionError, near_duplicate
from claw.cameras.settings import VisionSettings
from claw.cameras.wording import caption_error_text, caption_text
from claw.channels.notify import Notifier
from memory.store import Store

log = logging.getLogger(__name__)

STORED_CHARS = 700  # the caption column: the start's caption, then the end's ("… Then: …")
Picture = Callable[[], bytes]  # the JPEG to describe (may encode: called in the caption's thread)


class Narrator:
    """Asks the vision model about visits worth an alert. The alert never waits for it: it is queued first (so a
    crash loses no alert), and the start's caption follows as a second message when it is back within
    `caption_timeout`; later than that it is dropped. The end's caption is stored with the event (shown in
    "what happened …" answers) and sent only when the model calls it alarming."""

    def __init__(self, captioner: Captioner, store: Store, notifier: Notifier, label: Callable[[str], str],
                 timeout: float) -> None:
        self.captioner = captioner
        self.store = store
        self.notifier = notifier
        self.label = label
        self.timeout = timeout
        self._visits: dict[int, list[str]] = {}  # event id -> its captions so far (for duplicates and the end)
        self._tasks: set[asyncio.Task[None]] = set()
        self._error_told = False
        self.outcomes: list[tuple[int, str, str]] = []  # (event id, "start"/"end", what happened): status, tests

    @classmethod
    def from_settings(cls, vision: VisionSettings, store: Store, notifier: Notifier,
                      label: Callable[[str], str]) -> Narrator | None:
        if not vision.caption_url or not vision.caption_model:
            return None
        key = vision.caption_api_key.get_secret_value() if vision.caption_api_key else None
        captioner = Captioner(vision.caption_url, vision.caption_model, key, vision.caption_timeout)
        return cls(captioner, store, notifier, label, vision.caption_timeout)

    def visit_started(self, event_id: int, camera: str, jpeg: bytes, labels: Sequence[tuple[str, float]]) -> None:
        """An alerted visit began (on the event loop, after its alert was queued)."""
        self._visits[event_id] = []
        self._spawn(self._caption(event_id, camera, "start", lambda: jpeg, labels))

    def visit_ended(self, event_id: int, camera: str, picture: Picture | None) -> None:
        """The visit is over: one caption of its last picture with motion, when its start was captioned."""
        if event_id not in self._visits:
            return
        if picture is None or not self._visits[event_id]:
            self._visits.pop(event_id, None)
            return
        self._spawn(self._caption(event_id, camera, "end", picture, ()))

    async def drain(self) -> None:
        """Wait for the captions under way (tests, a clean stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        self.captioner.close()

    # ------------------------------------------------------------------------------------------------
    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _caption(self, event_id: int, camera: str, phase: str, picture: Picture,
                       labels: Sequence[tuple[str, float]]) -> None:
        try:
            outcome = await self._ask(event_id, camera, phase, picture, labels)
        except Exception:  # a caption must never disturb the cameras
            log.exception("camera %s: caption of event %d failed", camera, event_id)
            outcome = "failed"
        if phase == "end":
            self._visits.pop(event_id, None)
        self.outcomes = [*self.outcomes[-99:], (event_id, phase, outcome)]

    async def _ask(self, event_id: int, camera: str, phase: str, picture: Picture,
                   labels: Sequence[tuple[str, float]]) -> str:
        context = self._context(camera, phase, labels)
        try:
            caption = await asyncio.wait_for(asyncio.to_thread(self._describe, picture, context), self.timeout)
        except TimeoutError:
            log.info("camera %s: no caption within %g s: the alert went without one", camera, self.timeout)
            return "timeout"
        except CaptionError as exc:
            log.warning("camera %s: %s", camera, exc)
            if not self._error_told:
                self._error_told = True
                self.notifier.tell_owner(caption_error_text(str(exc)))
            return "error"
        if caption is None:
            return "unusable"
        return self._keep(event_id, camera, phase, caption)

    def _describe(self, picture: Picture, context: str) -> Caption | None:
        return self.captioner.describe(picture(), context)

    def _keep(self, event_id: int, camera: str, phase: str, caption: Caption) -> str:
        text = caption.text()
        earlier = self._visits.setdefault(event_id, [])
        if near_duplicate(text, earlier):
            log.info("camera %s: caption of event %d repeats an earlier one: dropped", camera, event_id)
            return "duplicate"
        earlier.append(text)
        self.store.camera_event_caption(event_id, " Then: ".join(earlier)[:STORED_CHARS])
        if phase == "start" or caption.threat == 2:
            self.notifier.tell_owner(caption_text(self.label(camera), text, later=phase == "end"))
            return "sent"
        return "stored"

    def _context(self, camera: str, phase: str, labels: Sequence[tuple[str, float]]) -> str:
        seen = ", ".join(f"{label} {score:.0%}" for label, score in labels) or "movement"
        when = ("The first picture of a visit" if phase == "start"
                else "The last picture with movement of the same visit")
        return f"{when} at the {self.label(camera)}. The object detector saw: {seen}."
