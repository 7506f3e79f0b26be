"""A simulated Shelly Gen2 roller (Plus 2PM in the cover profile): the Cover component over RPC."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devices.sim.http_devices import BadValue, _check_int
from devices.sim.shelly import SimShelly, number_param

STATES = ("open", "closed", "opening", "closing", "stopped", "calibrating")


def _state(value: Any) -> str:
    if value not in STATES:
        raise BadValue(f"state is one of {', '.join(STATES)}")
    return str(value)


class SimShellyCover(SimShelly):
    """Cover.GetStatus -> {"state", "current_pos" 0-100 (100 = open), "last_direction", ...};
    Cover.Open, Cover.Close, Cover.Stop, Cover.GoToPosition?pos=N. The simulated motor arrives at once
    (a real one reports opening/closing for a few seconds first)."""

    MODEL = "Shelly Plus 2PM"
    COMPONENT = "Cover"
    APP = "Plus2PM"
    ID_PREFIX = "shellyplus2pm"
    INFO_PAYLOAD = "cover_device_info"
    STATE_PAYLOAD = "cover_status"

    @property
    def txt(self) -> dict[str, str]:
        return super().txt  # Gen2 TXT: gen, app, ver (the profile shows in GET /shelly only)

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        return {"current_pos": lambda v: _check_int("current_pos", v, 0, 100), "state": _state}

    def _update(self, clean: dict[str, Any]) -> None:
        before = self._state["current_pos"]
        self._state.update(clean)
        after = self._state["current_pos"]
        if "current_pos" in clean:
            self._state["state"] = {100: "open", 0: "closed"}.get(after, "stopped")
            if after != before:
                self._state["last_direction"] = "open" if after > before else "close"
        self._state["source"] = "HTTP_in"

    def _component(self, verb: str, params: dict[str, Any]) -> tuple[int, Any]:
        if verb == "GetStatus":
            return 200, self._state
        if verb in ("Open", "Close"):
            self.change({"current_pos": 100 if verb == "Open" else 0}, record=f"RPC Cover.{verb}")
            return 200, None
        if verb == "Stop":
            self.change({"state": "stopped"}, record="RPC Cover.Stop")
            return 200, None
        if verb == "GoToPosition":
            pos = number_param(params.get("pos"))
            if pos is None or not 0 <= pos <= 100:
                return 400, {"code": -103, "message": "Invalid argument 'pos': expected number 0-100"}
            self.change({"current_pos": round(pos)}, record="RPC Cover.GoToPosition")
            return 200, None
        return 404, {"code": 404, "message": f"No handler for Cover.{verb}"}
