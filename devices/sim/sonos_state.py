"""The simulated Sonos player's state machine: transport, rendering and content; pure, no I/O."""

from __future__ import annotations

import threading
from collections.abc import Callable

from devices.sim import sonos_xml as X


class PlayerState:
    """The player's transport, rendering and content state; pure (no I/O) and thread-safe."""

    def __init__(self, uuid: str, favorites: list[dict[str, str]]) -> None:
        self._lock = threading.RLock()
        self.uuid = uuid
        self.transport = "STOPPED"
        self.volume = 20
        self.muted = False
        self.queue: list[dict[str, str]] = [
            {**t, "uri": f"x-file-cifs://nas/music/{t['title'].lower().replace(' ', '_')}.flac"}
            for t in X.PLAYLIST
        ]
        self.index = 0
        self.stream: tuple[str, str] | None = None  # (uri, metadata) when not playing from the queue
        self.rel_time = "0:00:00"
        self.favorites = [
            {**f, "metadata": f.get("metadata") or X.radio_didl(f["title"]),
             "description": f.get("description", "")}
            for f in favorites
        ]

    # readable snapshot ------------------------------------------------------------------------
    def current(self) -> dict[str, str]:
        """uri, title and artist of what is current (a queue track or a stream)."""
        with self._lock:
            if self.stream is not None:
                title, artist = X.didl_fields(self.stream[1])
                return {"uri": self.stream[0], "title": title, "artist": artist}
            if not self.queue:
                return {"uri": "", "title": "", "artist": ""}
            t = self.queue[self.index]
            return {"uri": t["uri"], "title": t["title"], "artist": t.get("artist", "")}

    # dispatch ---------------------------------------------------------------------------------
    def handle(self, action: str, args: dict[str, str]) -> dict[str, object]:
        """Run one AVTransport / RenderingControl / ContentDirectory action; raise X.UPnPFault to refuse."""
        method: Callable[[dict[str, str]], dict[str, object]] | None = getattr(self, f"_do_{action}", None)
        if method is None:
            raise X.UPnPFault(401)
        with self._lock:
            return method(args)

    # AVTransport ------------------------------------------------------------------------------
    def _do_Play(self, args: dict[str, str]) -> dict[str, object]:
        if self.stream is None and not self.queue:
            raise X.UPnPFault(701, "nothing to play")
        self.transport = "PLAYING"
        return {}

    def _do_Pause(self, args: dict[str, str]) -> dict[str, object]:
        if self.transport == "PLAYING":
            self.transport = "PAUSED_PLAYBACK"
        return {}

    def _do_Stop(self, args: dict[str, str]) -> dict[str, object]:
        self.transport = "STOPPED"
        self.rel_time = "0:00:00"
        return {}

    def _skip(self, step: int) -> dict[str, object]:
        if self.stream is not None or not self.queue:
            raise X.UPnPFault(701, "cannot skip on this source")
        self.index = (self.index + step) % len(self.queue)
        self.rel_time = "0:00:00"
        return {}

    def _do_Next(self, args: dict[str, str]) -> dict[str, object]:
        return self._skip(1)

    def _do_Previous(self, args: dict[str, str]) -> dict[str, object]:
        return self._skip(-1)

    def _do_Seek(self, args: dict[str, str]) -> dict[str, object]:
        unit = args.get("Unit", "")
        if unit == "TRACK_NR":
            if self.stream is not None:
                raise X.UPnPFault(701)
            self.index = X.int_arg(args, "Target", 1, max(len(self.queue), 1)) - 1
        elif unit == "REL_TIME":
            self.rel_time = args.get("Target", "0:00:00")
        else:
            raise X.UPnPFault(711)
        return {}

    def _do_GetTransportInfo(self, args: dict[str, str]) -> dict[str, object]:
        return {"CurrentTransportState": self.transport, "CurrentTransportStatus": "OK", "CurrentSpeed": "1"}

    def _do_GetPositionInfo(self, args: dict[str, str]) -> dict[str, object]:
        if self.stream is not None:
            uri, meta = self.stream
            track, duration = 1, "0:00:00"
        elif self.queue:
            t = self.queue[self.index]
            uri, track, duration = t["uri"], self.index + 1, t["duration"]
            meta = X.track_didl(item_id=f"Q:0/{track}", title=t["title"], artist=t.get("artist", ""),
                                album=t.get("album", ""), uri=uri, duration=duration)
        else:
            uri, meta, track, duration = "", "", 0, "0:00:00"
        return {"Track": track, "TrackDuration": duration, "TrackMetaData": meta, "TrackURI": uri,
                "RelTime": self.rel_time, "AbsTime": "NOT_IMPLEMENTED", "RelCount": 2147483647,
                "AbsCount": 2147483647}

    def _do_GetMediaInfo(self, args: dict[str, str]) -> dict[str, object]:
        if self.stream is not None:
            uri, meta, count = self.stream[0], self.stream[1], 1
        else:
            uri, meta, count = f"x-rincon-queue:{self.uuid}#0", "", len(self.queue)
        return {"NrTracks": count, "MediaDuration": "NOT_IMPLEMENTED", "CurrentURI": uri,
                "CurrentURIMetaData": meta, "NextURI": "", "NextURIMetaData": "", "PlayMedium": "NETWORK",
                "RecordMedium": "NOT_IMPLEMENTED", "WriteStatus": "NOT_IMPLEMENTED"}

    def _do_SetAVTransportURI(self, args: dict[str, str]) -> dict[str, object]:
        uri = args.get("CurrentURI", "")
        if not uri:
            raise X.UPnPFault(402, "missing CurrentURI")
        self.stream = None if uri.startswith("x-rincon-queue:") else (uri, args.get("CurrentURIMetaData", ""))
        self.transport = "STOPPED"
        self.rel_time = "0:00:00"
        return {}

    def _do_AddURIToQueue(self, args: dict[str, str]) -> dict[str, object]:
        uri = args.get("EnqueuedURI", "")
        if not uri:
            raise X.UPnPFault(402, "missing EnqueuedURI")
        title, artist = X.didl_fields(args.get("EnqueuedURIMetaData", ""))
        position = X.int_arg(args, "DesiredFirstTrackNumberEnqueued", 0, 1_000_000) if args.get(
            "DesiredFirstTrackNumberEnqueued") else 0
        at = len(self.queue) if position == 0 or position > len(self.queue) else position - 1
        self.queue.insert(at, {"title": title or uri.rsplit("/", 1)[-1], "artist": artist, "album": "",
                               "duration": "0:03:00", "uri": uri})
        return {"FirstTrackNumberEnqueued": at + 1, "NumTracksAdded": 1, "NewQueueLength": len(self.queue)}

    def _do_RemoveAllTracksFromQueue(self, args: dict[str, str]) -> dict[str, object]:
        self.queue.clear()
        self.index = 0
        if self.stream is None:
            self.transport = "STOPPED"
        return {}

    # RenderingControl -------------------------------------------------------------------------
    def _do_GetVolume(self, args: dict[str, str]) -> dict[str, object]:
        return {"CurrentVolume": self.volume}

    def _do_SetVolume(self, args: dict[str, str]) -> dict[str, object]:
        self.volume = X.int_arg(args, "DesiredVolume", 0, 100)
        return {}

    def _do_SetRelativeVolume(self, args: dict[str, str]) -> dict[str, object]:
        self.volume = max(0, min(100, self.volume + X.int_arg(args, "Adjustment", -100, 100)))
        return {"NewVolume": self.volume}

    def _do_GetMute(self, args: dict[str, str]) -> dict[str, object]:
        return {"CurrentMute": int(self.muted)}

    def _do_SetMute(self, args: dict[str, str]) -> dict[str, object]:
        value = args.get("DesiredMute", "").strip().lower()
        if value not in ("0", "1", "true", "false"):
            raise X.UPnPFault(600, "DesiredMute must be 0 or 1")
        self.muted = value in ("1", "true")
        return {}

    # ContentDirectory -------------------------------------------------------------------------
    def _do_Browse(self, args: dict[str, str]) -> dict[str, object]:
        object_id = args.get("ObjectID", "")
        items: list[dict[str, str]]
        if object_id == "FV:2":
            items, render = self.favorites, X.favorites_didl
        elif object_id == "Q:0":
            items, render = self.queue, X.queue_didl
        else:
            raise X.UPnPFault(701, f"no such object {object_id!r}")
        start = X.int_arg(args, "StartingIndex", 0, 1_000_000) if args.get("StartingIndex") else 0
        count = X.int_arg(args, "RequestedCount", 0, 1_000_000) if args.get("RequestedCount") else 0
        page = items[start:start + count] if count else items[start:]
        return {"Result": render(page), "NumberReturned": len(page), "TotalMatches": len(items),
                "UpdateID": 1}
