"""
Where alerts go: lines for the terminal, a JSON line in the store, and a Slack-compatible webhook.

A notifier is any callable taking the alerts of one round. `Notifications` calls several and keeps
going when one fails (a webhook that is down must not stop the watch or the store record).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flakehunt.errors import FlakehuntError
from flakehunt.watch.alerts import RAISED, Alert
from flakehunt.watch.runstore import RunStore

Notifier = Callable[[Sequence[Alert]], None]

# Slack allows 50 blocks a message and 3000 characters of text in a section.
_MAX_BLOCKS, _MAX_TEXT = 50, 3000


class NotifyError(FlakehuntError):
    """A webhook refused the alert or stayed unreachable after every retry."""


def slack_payload(alerts: Sequence[Alert]) -> dict:
    """
    Alerts as a Slack incoming-webhook message: `text` for notifications, `blocks` for the body.

    Slack-compatible receivers (Mattermost, Rocket.Chat, Discord's /slack endpoint) read the same.
    """
    raised = sum(alert.kind == RAISED for alert in alerts)
    summary = f"flakehunt: {raised} raised, {len(alerts) - raised} recovered"
    if len(alerts) == 1:
        summary = f"flakehunt: {alerts[0].text}"
    sections = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{alert.kind}* {alert.text}"[:_MAX_TEXT]},
        }
        for alert in alerts
    ]
    if len(sections) > _MAX_BLOCKS:
        more = len(sections) - (_MAX_BLOCKS - 1)
        sections = [
            *sections[: _MAX_BLOCKS - 1],
            {"type": "section", "text": {"type": "mrkdwn", "text": f"... and {more} more"}},
        ]
    return {"text": summary[:_MAX_TEXT], "blocks": sections}


def post_webhook(
    url: str,
    payload: dict,
    *,
    attempts: int = 5,
    backoff: float = 1.0,
    max_backoff: float = 30.0,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """
    POST `payload` as JSON, retrying with exponential backoff; return the attempts it took.

    Connection failures, timeouts, 5xx and 429 are retried after `backoff`, then twice that, ...
    (at most `max_backoff`, or the server's Retry-After when it is shorter than that); other
    4xx answers mean the URL or payload is wrong and fail at once.

    Raises
    ------
    NotifyError
        Refused, or still failing after `attempts` tries. The message names only the webhook's
        host: the path of a Slack webhook is its secret.
    """
    where = _redacted(url)
    body = json.dumps(payload).encode()
    problem = ""
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        wait = min(max_backoff, backoff * 2 ** (attempt - 1))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            return attempt
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code != 429 and exc.code < 500:
                raise NotifyError(
                    f"webhook {where} refused the alert with HTTP {exc.code}; check --notify"
                ) from None
            problem = f"HTTP {exc.code}"
            wait = _retry_after(exc.headers.get("Retry-After"), wait, max_backoff)
        except (urllib.error.URLError, OSError) as exc:
            problem = str(getattr(exc, "reason", exc))
        if attempt < attempts:
            sleep(wait)
    raise NotifyError(f"webhook {where} still failing after {attempts} attempts ({problem})")


def to_webhook(url: str, **retry: float) -> Notifier:
    """A notifier posting each round's alerts as one Slack-compatible message."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FlakehuntError(f"--notify has bad URL {url!r}; give an http(s) webhook URL")

    def notify(alerts: Sequence[Alert]) -> None:
        if alerts:
            post_webhook(url, slack_payload(alerts), **retry)  # type: ignore[arg-type]

    return notify


def to_store(store: RunStore, *, location: str) -> Notifier:
    """A notifier recording each alert as a JSON line in the store (`store.alerts`)."""

    def notify(alerts: Sequence[Alert]) -> None:
        store.alerts.append((alert.to_dict() for alert in alerts), location=location)

    return notify


def to_lines(write: Callable[[str], None]) -> Notifier:
    """A notifier handing each alert's text to `write` (the CLI prints it; the library never does)."""

    def notify(alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            write(f"{alert.kind}: {alert.text}")

    return notify


@dataclass
class Notifications:
    """Several notifiers; one that fails is reported to `on_error` and the others still run."""

    targets: list[Notifier] = field(default_factory=list)
    on_error: Callable[[FlakehuntError], None] | None = None

    def __call__(self, alerts: Sequence[Alert]) -> None:
        for target in self.targets:
            try:
                target(alerts)
            except FlakehuntError as exc:
                if self.on_error is None:
                    raise
                self.on_error(exc)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/..."


def _retry_after(header: str | None, default: float, ceiling: float) -> float:
    try:
        return min(ceiling, max(0.0, float(header))) if header else default
    except ValueError:  # an HTTP date: keep our own schedule
        return default
