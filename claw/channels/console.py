"""The console channel: read lines from stdin, submit them as the owner's messages, print the replies."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TextIO

from claw.events import InboundMessage

if TYPE_CHECKING:
    from claw.channels.base import LocalChannel

QUIT = ("quit", "exit", ":q")


def too_long(length: int, cap: int) -> str | None:
    """The one-line refusal for input over the cap (Settings.max_input_chars, the web chat's cap too), or None."""
    if length <= cap:
        return None
    return f"That message is {length:,} characters long; the limit is {cap:,} (max_input_chars). Nothing was done."


def read_line(stream: TextIO, limit: int) -> tuple[str, int] | None:
    """One line, stripped, with at most `limit` + 2 characters kept in memory: (text, length), None at EOF.
    For a longer line `length` counts all of it, and its rest is read and dropped (never further messages)."""
    line = stream.readline(limit + 2)
    if not line:
        return None
    text = line.strip()
    if line.endswith("\n") or len(line) < limit + 2:
        return text, len(text)
    length = len(line)
    while chunk := stream.readline(65536):
        length += len(chunk.rstrip("\r\n"))
        if chunk.endswith("\n"):
            break
    return text, length


async def console_loop(channel: LocalChannel, submit: Callable[[InboundMessage], object], *, name: str,
                       sender: str, max_chars: int, commands: Mapping[str, Callable[[], str]] | None = None) -> None:
    """Read lines from stdin, `submit` each as `sender`'s (the owner's) message, and print the replies as the
    outbox delivers them on `channel`, signed `name`. Bytes that are not UTF-8 become U+FFFD; a line over
    `max_chars` is refused with one line, without a turn. Ends at EOF or 'quit'. `commands` (e.g. `claw demo`'s
    "/visitor") are answered locally, without a turn."""
    queue = channel.listen()
    stdin = sys.stdin
    try:
        stdin.reconfigure(errors="replace")  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # not a TextIOWrapper (a test's StringIO), or already read
        pass
    print(f"{name}: ready. Type a message, or 'quit'.", flush=True)  # noqa: T201
    while True:
        read = await asyncio.to_thread(read_line, stdin, max_chars)
        if read is None:
            break
        text, length = read
        if text.lower() in QUIT:
            break
        refusal = too_long(length, max_chars)
        if refusal:
            print(f"{name}: {refusal}", flush=True)  # noqa: T201
            continue
        if not text:
            continue
        if commands and text.lower() in commands:
            print(f"{name}: {commands[text.lower()]()}", flush=True)  # noqa: T201
            continue
        submit(InboundMessage(channel="console", sender=sender, text=text, standing="owner"))
        row = await queue.get()
        print(f"{name}: {row['text']}", flush=True)  # noqa: T201
        while not queue.empty():
            print(f"{name}: {queue.get_nowait()['text']}", flush=True)  # noqa: T201
