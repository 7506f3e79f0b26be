"""The generic HTTP driver: runs declarative adapter specs against JSON devices over one httpx client."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx

from devices.adapters.credentials import CredentialStore
from devices.adapters.spec import (
    AdapterSpec,
    RenderedRequest,
    builtin_specs,
    command_read,
    command_refusal,
    extract_state,
    refusal_at,
    render_request,
    render_state,
    spec_matches,
)
from devices.errors import (
    AdapterSpecError,
    DeviceOutcomeUnknown,
    DeviceTimeout,
    DeviceUnavailable,
    InvalidArgument,
)
from devices.models import Device

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0  # the same as Settings.device_timeout; the claw passes its configured value
MAX_RESPONSE_BYTES = 1 << 20
INFO_PATH = "/api/info"


def untrusted_text(value: Any, limit: int = 160) -> str:
    """Device-supplied text made safe to quote: printable characters only, one line, at most `limit` long."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_text(body: bytes) -> str:
    """The device's own error message from a JSON `error`/`message`/`detail` field, else the raw text; one
    short printable line, with its double quotes turned into single ones: the caller quotes it in "...", and
    the device must not be able to close that quote and go on as if the claw were speaking. (Fencing it for
    a model and cleaning it for a chat reply is the claw's job: see claw.untrusted.)"""
    try:
        data = json.loads(body)
    except ValueError:
        data = body.decode("utf-8", "replace")
    if isinstance(data, dict):
        data = next((data[key] for key in ("error", "message", "detail") if isinstance(data.get(key), str)), data)
    return untrusted_text(data).replace('"', "'")


def _client(timeout: float) -> httpx.AsyncClient:
    # No proxies from the environment, no redirects: an adapter talks to its device and nothing else.
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), trust_env=False, follow_redirects=False,
                             headers={"User-Agent": "homeclaw"})


async def _fetch(client: httpx.AsyncClient, label: str, address: str, req: RenderedRequest,
                 command: str | None = None) -> bytes:
    """Send one request and return the body of a 2xx answer; every failure becomes a devices error.

    `command` names the vocabulary command for a state-changing request (a 4xx is then InvalidArgument);
    None means a read (a 4xx means the adapter does not fit the device: DeviceUnavailable)."""
    url = f"http://{address}{req.path}"
    try:
        async with client.stream(req.method, url, json=req.json, params=req.params, data=req.data) as resp:
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise DeviceUnavailable(f"{label} sent an answer larger than {MAX_RESPONSE_BYTES} bytes")
            status = resp.status_code
    except (httpx.ConnectTimeout, httpx.PoolTimeout):  # nothing was sent: a plain failure
        raise DeviceUnavailable(f"{label} is not reachable at {address} (no connection within "
                                f"{client.timeout.connect:g} s)") from None
    except httpx.TimeoutException:  # sent, no answer: a command may still take effect
        raise DeviceTimeout(f"{label} did not answer within {client.timeout.read:g} s") from None
    except httpx.ConnectError:
        raise DeviceUnavailable(f"{label} is not reachable at {address}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        text = f"{label} broke off the connection ({exc.__class__.__name__})"
        if command and isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
            # after (part of) the request went out: the device may have acted on it
            raise DeviceOutcomeUnknown(text) from None
        raise DeviceUnavailable(text) from None
    log.debug("%s %s %s -> %s", label, req.method, req.label, status)
    if status < 300:
        return bytes(body)
    what = command.replace("_", " ") if command else f"the read of {req.label}"
    if 400 <= status < 500 and status not in (408, 429) and command:
        raise InvalidArgument(f'{label} refused to {what}: "{_error_text(bytes(body))}"')
    if 300 <= status < 400:
        raise DeviceUnavailable(f"{label} answered {what} with a redirect (HTTP {status}); not followed")
    raise DeviceUnavailable(f'{label} failed {what} (HTTP {status}): "{_error_text(bytes(body))}"')


def _decode(label: str, path: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise DeviceUnavailable(f"{label} answered {path} with something that is not JSON") from None


class HttpDriver:
    """Drives devices whose `adapter` names a declarative spec; one httpx client per device address (its
    connections kept alive between reads, and a request never scans other devices' connections), bounded
    timeouts."""

    name = "http"

    def __init__(self, specs: dict[str, AdapterSpec] | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT, credentials: CredentialStore | None = None) -> None:
        self._specs = dict(specs) if specs is not None else builtin_specs()
        self._timeout = timeout
        self._clients: dict[str, httpx.AsyncClient] = {}  # by device address
        # secrets from pairing steps (devices/adapters/pairing.py), by the paired device's id
        self.credentials = credentials if credentials is not None else CredentialStore()

    @property
    def timeout(self) -> float:
        """Seconds this driver waits for a device (connect, send, answer): the claw passes device_timeout."""
        return self._timeout

    @property
    def specs(self) -> dict[str, AdapterSpec]:
        return dict(self._specs)

    def add_spec(self, spec: AdapterSpec) -> None:
        """Register (or replace, e.g. by a newer version) the spec under its name."""
        self._specs[spec.name] = spec

    def spec_for(self, device: Device) -> AdapterSpec:
        spec = self._specs.get(device.adapter or "")
        if spec is None:
            raise DeviceUnavailable(f"{device.name} has no usable adapter ({device.adapter or 'none set'})")
        return spec

    def min_read_seconds(self, device: Device) -> float:
        """The adapter's `min_read_seconds` (0 for a device without a usable adapter)."""
        spec = self._specs.get(device.adapter or "")
        return spec.min_read_seconds if spec is not None else 0.0

    def _http(self, address: str) -> httpx.AsyncClient:
        client = self._clients.get(address)
        if client is None:  # created inside the running loop, on first use
            client = self._clients[address] = _client(self._timeout)
        return client

    def _params(self, device: Device, spec: AdapterSpec) -> dict[str, str]:
        """The device params the spec needs: its channel (attrs) and the credential its pairing stored."""
        params: dict[str, str] = {}
        if "channel" in spec.needs:
            params["channel"] = str(device.attrs.get("channel") or "")
        if "credential" in spec.needs:
            owner = str(device.attrs.get("paired_with") or device.id)
            secret = self.credentials.get(owner)
            if not secret:
                raise DeviceUnavailable(f"{device.name} is not paired yet (its hub {owner} gave the claw no "
                                        "credential): pair it again")
            params["credential"] = secret
        return params

    async def execute(self, device: Device, command: str, args: dict[str, Any]) -> None:
        spec = self.spec_for(device)
        try:
            params = self._params(device, spec)
            first = command_read(spec, command, args, params)  # read-before-write: the body depends on it
            answer = None if first is None else await self._read(device, first[0], first[1].error)
            req = render_request(spec, command, args, params, read=answer)
        except AdapterSpecError as exc:
            raise DeviceUnavailable(f"{device.name}: {exc}") from None
        log.info("%s: %s %s", device.id, command, args or "")
        body = await _fetch(self._http(device.address), device.name, device.address, req, command=command)
        if spec.commands[command].error is not None:
            try:
                answer = json.loads(body)
            except ValueError:
                return
            refusal = command_refusal(spec, command, answer)
            if refusal is not None:
                text = untrusted_text(refusal).replace('"', "'")
                raise InvalidArgument(f'{device.name} refused to {command.replace("_", " ")}: "{text}"')

    async def _read(self, device: Device, req: RenderedRequest, error: str | None) -> Any:
        """One read request's decoded answer; a refusal at the spec's `error` path is DeviceUnavailable."""
        body = await _fetch(self._http(device.address), device.name, device.address, req)
        answer = _decode(device.name, req.label, body)
        refusal = refusal_at(error, answer)
        if refusal is not None:
            text = untrusted_text(refusal).replace('"', "'")
            raise DeviceUnavailable(f'{device.name} refused the read of {req.label}: "{text}"')
        return answer

    async def state(self, device: Device) -> dict[str, Any]:
        spec = self.spec_for(device)
        try:
            reads = render_state(spec, self._params(device, spec))
        except AdapterSpecError as exc:
            raise DeviceUnavailable(f"{device.name}: {exc}") from None

        async def read(template: str, error: str | None, req: RenderedRequest) -> tuple[str, Any]:
            return template, await self._read(device, req, error)

        responses = dict(await asyncio.gather(*(read(r.path, r.error, req)
                                                for r, req in zip(spec.state, reads, strict=True))))
        state = extract_state(spec, responses)
        state.setdefault("available", True)
        return state

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def device_from_info(info: dict[str, Any], address: str, spec: AdapterSpec, room: str | None,
                     name: str | None = None) -> Device:
    """Build the Device for an HTTP device from its `/api/info` answer (pure). Raises DeviceUnavailable if
    the answer carries neither a serial nor a MAC."""
    if not isinstance(info, dict):
        raise DeviceUnavailable(f"{address} answered {INFO_PATH} with something that is not a JSON object")
    fields = {k: untrusted_text(v, 64) for k in ("model", "serial", "mac", "name", "firmware")
              if isinstance(v := info.get(k), str | int) and not isinstance(v, bool) and str(v).strip()}
    if "serial" in fields:
        device_id = f"serial:{fields['serial']}"
    elif "mac" in fields:
        device_id = f"mac:{fields['mac'].lower()}"
    else:
        raise DeviceUnavailable(f"{address} reports neither a serial nor a MAC at {INFO_PATH}")
    if spec.match is not None and spec.match.path == INFO_PATH and not spec_matches(spec, {INFO_PATH: info}):
        log.warning("%s at %s does not match adapter %s", device_id, address, spec.name)
    return Device(
        id=device_id, name=name or fields.get("name") or fields.get("model") or spec.name, kind=spec.kind,
        room=room, capabilities=frozenset(str(c) for c in spec.capabilities), driver=HttpDriver.name,
        address=address, adapter=spec.name,
        attrs={k: v for k, v in fields.items() if k in ("model", "serial", "mac", "firmware")},
    )


async def http_device_from_info(address: str, spec_name: str, room: str | None, name: str | None = None,
                                *, specs: dict[str, AdapterSpec] | None = None,
                                timeout: float = DEFAULT_TIMEOUT) -> Device:
    """Read `GET /api/info` at host:port and build its Device (id "serial:…" or "mac:…", driver "http")."""
    spec = (specs if specs is not None else builtin_specs()).get(spec_name)
    if spec is None:
        raise AdapterSpecError(f"no adapter spec named {spec_name!r}")
    async with _client(timeout) as client:
        body = await _fetch(client, address, address, RenderedRequest("GET", INFO_PATH))
    return device_from_info(_decode(address, INFO_PATH, body), address, spec, room, name)
