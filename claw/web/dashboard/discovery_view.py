"""The Discovery page's rows: the last scan's entries and every adapter's versions, device text made inert."""

from __future__ import annotations

from typing import Any

from claw.learn.chat import LEARN_KIND
from devices.adapters.spec import AdapterSpec, builtin_specs, load_spec
from devices.discovery.reconcile import ADDED, IGNORED, NEW, SUSPECT
from devices.drivers.http import untrusted_text
from devices.errors import AdapterSpecError
from devices.learn.summary import requests_of

FIELD_CAP = 120  # any device-supplied text shown on the page (names, TXT, model output) is at most this long
FINGERPRINT_ITEMS = 8


def _cap(value: Any, limit: int = FIELD_CAP) -> str:
    return "" if value is None or value == "" else untrusted_text(value, limit)


def entry_row(row: dict[str, Any], registry_names: dict[str, str]) -> dict[str, Any]:
    """One discovered row as shown: capped text, and what the owner may do with it (a SUSPECT one: no Add)."""
    status = str(row.get("status") or NEW)
    fingerprint = row.get("fingerprint") or {}
    details = [f"{_cap(k, 40)}: {_cap(v)}" for k, v in list(fingerprint.items())[:FINGERPRINT_ITEMS]
               if v not in (None, "", [], {})] if isinstance(fingerprint, dict) else []
    adapter = row.get("adapter")
    return {"key": _cap(row["key"], 200), "idx": row.get("idx"), "address": _cap(row.get("address"), 60),
            "identity": _cap(row.get("identity")) or "none shown", "what": _cap(row.get("what")) or "unknown device",
            "name": _cap(row.get("name"), 80), "adapter": _cap(adapter, 60) if adapter else None,
            "status": status, "note": _cap(row.get("note"), 300), "details": details,
            "device": registry_names.get(str(row.get("device_id") or "")),
            "can_add": status == NEW and bool(adapter), "can_learn": status == NEW and not adapter,
            "can_ignore": status in (NEW, SUSPECT) or (status == ADDED and row.get("device_id") not in registry_names),
            "can_unignore": status in (IGNORED, SUSPECT)}


def _requests(spec_text: str) -> tuple[list[str], str | None]:
    try:
        return requests_of(load_spec(spec_text)), None
    except AdapterSpecError as exc:
        return [], _cap(str(exc), 300)


def _spec_row(name: str, spec: AdapterSpec, source: str) -> dict[str, Any]:
    return {"name": name, "source": source, "description": _cap(spec.description, 200), "versions": [],
            "shipped_version": spec.version, "requests": requests_of(spec)}


def adapter_rows(stored: list[dict[str, Any]], files: dict[str, AdapterSpec],
                 pending: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every adapter: learned, hand-written (adapters_dir), shipped; each stored version with its status, the
    requests it would send, whether it is current, awaiting the owner's YES, or a version to roll back to."""
    out: list[dict[str, Any]] = []  # learned ones first (what may await the owner), hand-written, shipped
    waiting = None
    if pending is not None and (pending.get("payload") or {}).get("kind") == LEARN_KIND:
        waiting = (pending["payload"].get("name"), pending["payload"].get("version"))
    by_name: dict[str, list[dict[str, Any]]] = {}
    for r in stored:
        by_name.setdefault(r["name"], []).append(r)
    for name, versions in sorted(by_name.items()):
        approved = [v["version"] for v in versions if v["status"] == "approved"]
        current = max(approved) if approved else None
        rows = []
        for v in sorted(versions, key=lambda v: -v["version"]):
            requests, error = _requests(v["spec"])
            rows.append({"version": v["version"], "status": v["status"], "source": v["source"],
                         "host": _cap(v.get("host"), 60), "created_at": v.get("created_at"),
                         "decided_at": v.get("decided_at"), "by": _cap(v.get("approved_by"), 60),
                         "current": v["version"] == current, "requests": requests, "error": error,
                         "awaiting": waiting == (name, v["version"]) and v["status"] == "draft",
                         "can_rollback": current is not None and v["status"] == "approved"
                         and v["version"] < current})
        out.append({"name": _cap(name, 80), "raw_name": name, "source": "learned", "description": "",
                    "versions": rows, "shipped_version": None, "requests": []})
    out += [_spec_row(n, s, "adapters_dir") for n, s in sorted(files.items())]
    return out + [_spec_row(n, s, "shipped") for n, s in sorted(builtin_specs().items())]
