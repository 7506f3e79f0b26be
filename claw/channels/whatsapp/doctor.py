"""`claw doctor` checks: the Twilio/WhatsApp settings, and that the webhook answers a signed request."""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx
from twilio.request_validator import RequestValidator

from claw.channels.whatsapp.numbers import normalize_number
from claw.config import Settings, config_file, load_settings
from claw.errors import ClawError

Status = Literal["ok", "warn", "fail"]

WHATSAPP_PATH = "/twilio/whatsapp"
STATUS_PATH = "/twilio/status"
DOCTOR_HEADER = "X-Claw-Doctor"
SANDBOX_NUMBER = "whatsapp:+14155238886"
_ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
_AUTH_TOKEN = re.compile(r"[0-9a-f]{32}")
_CONTENT_SID = re.compile(r"HX[0-9a-f]{32}")
_FROM = re.compile(r"whatsapp:\+[1-9]\d{6,14}")


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report; `fix` says what to do when it is not ok."""

    name: str
    status: Status
    message: str
    fix: str | None = None


def ok(name: str, message: str) -> Check:
    return Check(name, "ok", message)


def warn(name: str, message: str, fix: str | None = None) -> Check:
    return Check(name, "warn", message, fix)


def fail(name: str, message: str, fix: str | None = None) -> Check:
    return Check(name, "fail", message, fix)


def worst(checks: list[Check]) -> Status:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "ok"


def webhook_urls(settings: Settings) -> dict[str, str] | None:
    """The two URLs to paste into the Twilio console, or None without a public URL."""
    base = (settings.twilio.public_url or "").strip().rstrip("/")
    if not base:
        return None
    return {"incoming": base + WHATSAPP_PATH, "status": base + STATUS_PATH}


def load_check() -> tuple[Settings | None, Check]:
    """Load the settings the way `claw run` does."""
    path = config_file()
    try:
        settings = load_settings()
    except ClawError as exc:
        return None, fail("config", str(exc), f"fix {path} or the CLAW_* environment variables")
    where = f"{path}" if path.exists() else f"no config file ({path} does not exist): environment and defaults"
    return settings, ok("config", f"loaded: {where}")


# settings ----------------------------------------------------------------------------------------
def config_checks(settings: Settings) -> list[Check]:
    """Every check that needs no network, in the order a user fixes things."""
    tw = settings.twilio
    required = {"account_sid": tw.account_sid, "auth_token": tw.auth_token, "from_number": tw.from_number,
                "public_url": tw.public_url}
    missing = [k for k, v in required.items() if not v]
    if len(missing) == len(required):
        return [fail("twilio settings", "no [twilio] settings: WhatsApp is off",
                     "add a [twilio] section to claw.toml (see deploy/TWILIO.md) or set CLAW_TWILIO__ACCOUNT_SID, "
                     "CLAW_TWILIO__AUTH_TOKEN, CLAW_TWILIO__FROM_NUMBER, CLAW_TWILIO__PUBLIC_URL, "
                     "CLAW_TWILIO__OWNERS")]
    checks = [fail("twilio settings", f"missing: {', '.join(missing)}",
                   "set them in [twilio] in claw.toml or as CLAW_TWILIO__<KEY>") if missing
              else ok("twilio settings", "account_sid, auth_token, from_number and public_url are set")]
    checks += [_account_sid(tw.account_sid), _auth_token(tw.auth_token), _from_number(tw.from_number),
               _owners(tw.owners, tw.pairing), _public_url(tw.public_url), _window(tw.window_policy,
                                                                                    tw.template_content_sid)]
    checks.append(ok("pairing", f"on: unknown numbers get a code valid {tw.pairing_seconds / 60:g} min"
                     if tw.pairing else "off: unknown numbers are ignored silently"))
    if tw.api_base:
        checks.append(warn("api_base", f"set to {tw.api_base}: Twilio's real API will not be used",
                           "remove twilio.api_base (it is meant for tests)"))
    return checks


def _account_sid(sid: str | None) -> Check:
    if not sid:
        return fail("account_sid", "not set", "copy the Account SID from the Twilio console home page")
    if _ACCOUNT_SID.fullmatch(sid.strip()):
        return ok("account_sid", f"{sid[:6]}… looks right (AC + 32 hex)")
    return fail("account_sid", "not AC followed by 32 hex characters",
                "copy the Account SID (starts with AC) from the Twilio console; an API key SID (SK...) won't do")


def _auth_token(token: object) -> Check:
    value = token.get_secret_value() if hasattr(token, "get_secret_value") else None
    if not value:
        return fail("auth_token", "not set", "copy the Auth Token from the Twilio console (it signs every webhook)")
    if _AUTH_TOKEN.fullmatch(value.strip()):
        return ok("auth_token", "set (32 hex characters; not shown)")
    return fail("auth_token", f"set but not 32 hex characters (length {len(value)}; not shown)",
                "paste the primary Auth Token exactly; an API key secret cannot check webhook signatures")


def _from_number(number: str | None) -> Check:
    if not number:
        return fail("from_number", "not set", f'use "{SANDBOX_NUMBER}" for the sandbox, or your WhatsApp sender')
    if _FROM.fullmatch(number.strip()):
        note = " (the Twilio sandbox)" if number.strip() == SANDBOX_NUMBER else ""
        return ok("from_number", f"{number}{note}")
    e164 = normalize_number(number)
    hint = f'write it as "whatsapp:{e164}"' if e164 else 'write it as "whatsapp:+<country code><number>"'
    return fail("from_number", f"{number!r} is not whatsapp:+E.164", hint)


def _owners(owners: list[str], pairing: bool) -> Check:
    if not owners:
        why = "no one can approve pairing codes" if pairing else "every message will be denied"
        return fail("owners", f"empty: {why}", 'set owners = ["+15551234567"] (your own WhatsApp number)')
    bad = [o for o in owners if normalize_number(o) is None]
    if bad:
        return fail("owners", f"not E.164: {', '.join(repr(b) for b in bad)}",
                    'write each as "+<country code><number>", e.g. "+15551234567"')
    return ok("owners", ", ".join(normalize_number(o) or o for o in owners))


def _public_url(url: str | None) -> Check:
    name = "public_url"
    if not url:
        return fail(name, "not set", "the https URL of your tunnel or reverse proxy, e.g. https://claw.example.net")
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return fail(name, f"{url!r} is not an http(s) URL", "e.g. https://claw.example.net")
    if _unreachable(host):
        return fail(name, f"{host} is not reachable from Twilio's servers",
                    "use the public URL of a tunnel (cloudflared, Tailscale Funnel) or a reverse proxy")
    if parts.query or parts.fragment:
        return fail(name, "has a query string or fragment", "give the bare origin, e.g. https://claw.example.net")
    if parts.path not in ("", "/"):
        return warn(name, f"has a path ({parts.path}): the routes are {parts.path.rstrip('/')}{WHATSAPP_PATH} ...",
                    "only right if your proxy strips that prefix (or uvicorn runs with root_path); "
                    "otherwise give the bare origin")
    if parts.scheme == "http":
        return warn(name, "plain http: messages and signatures travel unencrypted",
                    "use https (cloudflared and Tailscale Funnel give you https for free)")
    return ok(name, url.strip().rstrip("/"))


def _unreachable(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith((".local", ".localhost", ".internal",
                                                                         ".lan", ".home.arpa")):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "." not in host
    return not ip.is_global


def _window(policy: str, content_sid: str | None) -> Check:
    if policy != "template":
        return ok("24-hour window", "proactive messages outside the window are held until the owner writes")
    if not content_sid:
        return fail("template_content_sid", 'window_policy = "template" but no template_content_sid',
                    "create and get approved a WhatsApp template with one variable {{1}} (Content Template "
                    'Builder), then set template_content_sid = "HX..."')
    if not _CONTENT_SID.fullmatch(content_sid.strip()):
        return fail("template_content_sid", f"{content_sid!r} is not HX followed by 32 hex characters",
                    "copy the Content SID (HX...) of the approved template")
    return ok("template_content_sid", f"{content_sid[:6]}… (proactive messages outside the window use it)")


# the webhook probe -------------------------------------------------------------------------------
def local_base(settings: Settings) -> str:
    host = settings.web.host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.web.port}"


def probe_form(settings: Settings) -> dict[str, str]:
    owner = next((n for n in (normalize_number(o) for o in settings.twilio.owners) if n), "+15005550006")
    return {"AccountSid": settings.twilio.account_sid or "", "Body": "claw doctor probe (not stored)",
            "From": f"whatsapp:{owner}", "To": settings.twilio.from_number or "", "NumMedia": "0",
            "MessageSid": "SM" + secrets.token_hex(16)}


async def probe_webhook(settings: Settings, base_url: str, *, name: str = "webhook (local)",
                        timeout: float = 5.0) -> Check:
    """POST a correctly signed doctor probe to `base_url` + /twilio/whatsapp; the router acknowledges it
    (200 + X-Claw-Doctor: ok) without storing anything."""
    tw = settings.twilio
    urls = webhook_urls(settings)
    if not tw.auth_token or urls is None:
        return fail(name, "cannot probe without auth_token and public_url", "fix the settings above first")
    form = probe_form(settings)
    signature = RequestValidator(tw.auth_token.get_secret_value()).compute_signature(urls["incoming"], form)
    target = base_url.rstrip("/") + WHATSAPP_PATH
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False) as client:
            r = await client.post(target, data=form, headers={"X-Twilio-Signature": signature, DOCTOR_HEADER: "1"})
    except httpx.HTTPError as exc:
        return fail(name, f"no answer from {target} ({exc.__class__.__name__})",
                    "start the claw (`claw run`) and check web.host / web.port" if name.endswith("(local)") else
                    "check that the tunnel or proxy is up and forwards to the claw's web port")
    if r.status_code == 200 and r.headers.get(DOCTOR_HEADER) == "ok":
        return ok(name, f"{target} accepted a signed test request")
    if r.status_code == 403:
        return fail(name, f"{target} refused a correctly signed request (403)",
                    "the running claw has another auth_token or public_url than this config: restart it; "
                    "through a proxy, make sure it forwards the path and query string unchanged")
    if r.status_code in (404, 405):
        return fail(name, f"{target} has no Twilio webhook ({r.status_code})",
                    "restart the claw with the [twilio] settings (the route is mounted when they are set)")
    if r.status_code == 200:
        return warn(name, f"{target} answered 200, but not as the claw's webhook",
                    "check that the URL reaches this claw and not another service")
    return fail(name, f"{target} answered {r.status_code}", "look at the claw's log for the reason")


async def run_checks(settings: Settings, *, public: bool = False, local: bool = True) -> list[Check]:
    """All checks for these settings; the public URL is contacted only with `public`."""
    checks = config_checks(settings)
    if not settings.twilio.auth_token or not settings.twilio.public_url:
        return checks
    if local:
        checks.append(await probe_webhook(settings, local_base(settings)))
    if public:
        checks.append(await probe_webhook(settings, settings.twilio.public_url or "", name="webhook (public)",
                                          timeout=15.0))
    return checks
