"""`claw doctor`: check the WhatsApp/Twilio setup and print the webhook URLs for the Twilio console."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from claw.channels.whatsapp.doctor import Check

_LABEL = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def print_checks(checks: list[Check]) -> None:
    for check in checks:
        typer.echo(f"[{_LABEL[check.status]}] {check.name}: {check.message}")
        if check.fix and check.status != "ok":
            typer.echo(f"       fix: {check.fix}")


def doctor_command(
        public: Annotated[bool, typer.Option("--public", help="Also send a signed test request through the "
                                                             "public URL (your tunnel or proxy).")] = False,
        local: Annotated[bool, typer.Option(help="Send a signed test request to the local server.")] = True,
) -> None:
    """Check the Twilio settings and that the webhook answers; print the URLs to paste into Twilio."""
    from claw.channels.whatsapp.doctor import load_check, run_checks, webhook_urls

    settings, loaded = load_check()
    checks = [loaded]
    if settings is not None:
        checks += asyncio.run(run_checks(settings, public=public, local=local))
    print_checks(checks)
    urls = webhook_urls(settings) if settings is not None else None
    if urls:
        typer.echo("\nIn the Twilio console (sandbox: Messaging > Try it out > Send a WhatsApp message > Sandbox "
                   "settings;\na sender: its WhatsApp sender / Messaging Service configuration):")
        typer.echo(f"  When a message comes in:  {urls['incoming']}   (method POST)")
        typer.echo(f"  Status callback URL:      {urls['status']}   (method POST)")
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    typer.echo(f"\n{failed} problem(s), {warned} warning(s)" if failed or warned else "\nall good")
    raise typer.Exit(1 if failed else 0)
