"""Notifications: a Slack-compatible webhook on a loopback server, retries, the store record, lines."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flakehunt.errors import FlakehuntError
from flakehunt.watch.alerts import RAISED, RECOVERED, Alert
from flakehunt.watch.notify import (
    Notifications,
    NotifyError,
    post_webhook,
    slack_payload,
    to_lines,
    to_store,
    to_webhook,
)
from flakehunt.watch.runstore import open_store

WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)
FRA = Alert(
    RAISED, {"edge_pop": "FRA56-C1", "browser": "chromium"}, 7, 10, 0, 40, 2, 1.2e-6, WHEN, "fra-office"
)
IAD = Alert(RECOVERED, {"edge_pop": "IAD89-P2"}, 0, 10, 1, 40, 2, 1.0, WHEN, "fra-office")


class Receiver:
    """A webhook on 127.0.0.1 that answers `statuses` in turn (then 200) and keeps what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.bodies: list[dict] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                receiver.attempts += 1
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(json.loads(body))
                    receiver.content_type = self.headers["Content-Type"]
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0.25")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/SECRET"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[callable]:
    started: list[Receiver] = []

    def start(statuses: list[int] | None = None) -> Receiver:
        started.append(Receiver(statuses or []))
        return started[-1]

    yield start
    for server in started:
        server.close()


def test_webhook_receives_a_slack_compatible_message(receiver) -> None:
    hook = receiver()
    to_webhook(hook.url)([FRA, IAD])
    assert hook.content_type == "application/json"
    [body] = hook.bodies
    assert body["text"] == "flakehunt: 1 raised, 1 recovered"
    assert [block["type"] for block in body["blocks"]] == ["section", "section"]
    assert body["blocks"][0]["text"] == {
        "type": "mrkdwn",
        "text": "*raised* edge FRA56-C1 x chromium: 7/10 failed in the last 2 rounds vs 0/40 before"
        " (p<0.0001), from fra-office",
    }


def test_webhook_failing_twice_then_accepting_gets_it_with_backoff(receiver) -> None:
    hook = receiver([500, 503])
    waits: list[float] = []
    attempts = post_webhook(hook.url, slack_payload([FRA]), backoff=0.5, sleep=waits.append)
    assert attempts == 3 == hook.attempts
    assert waits == [0.5, 1.0], "exponential"
    assert hook.bodies[0]["text"].startswith("flakehunt: edge FRA56-C1 x chromium: 7/10 failed")


def test_webhook_retries_are_bounded_and_the_secret_path_is_not_shown(receiver) -> None:
    hook = receiver([500] * 10)
    waits: list[float] = []
    with pytest.raises(NotifyError) as caught:
        post_webhook(hook.url, {"text": "x"}, attempts=4, backoff=1, max_backoff=3, sleep=waits.append)
    assert hook.attempts == 4
    assert waits == [1, 2, 3]
    assert "SECRET" not in str(caught.value)
    assert str(caught.value).endswith("still failing after 4 attempts (HTTP 500)")


def test_rate_limited_webhook_waits_as_told(receiver) -> None:
    hook = receiver([429])
    waits: list[float] = []
    assert post_webhook(hook.url, {"text": "x"}, backoff=5, sleep=waits.append) == 2
    assert waits == [0.25]


def test_a_refusal_is_not_retried(receiver) -> None:
    hook = receiver([404])
    with pytest.raises(NotifyError, match="refused the alert with HTTP 404"):
        post_webhook(hook.url, {"text": "x"}, sleep=lambda _: None)
    assert hook.attempts == 1


def test_an_unreachable_webhook_is_retried_then_reported(receiver) -> None:
    hook = receiver()
    url = hook.url
    hook.close()
    with pytest.raises(NotifyError, match="still failing after 2 attempts"):
        post_webhook(url, {"text": "x"}, attempts=2, sleep=lambda _: None, timeout=2)


def test_bad_webhook_url_is_one_line() -> None:
    with pytest.raises(FlakehuntError, match=r"--notify has bad URL 'hooks\.slack\.com/x'"):
        to_webhook("hooks.slack.com/x")


def test_many_alerts_fit_slacks_block_limit() -> None:
    payload = slack_payload([FRA] * 80)
    assert len(payload["blocks"]) == 50
    assert payload["blocks"][-1]["text"]["text"] == "... and 31 more"


def test_alerts_are_recorded_in_the_store_and_printed(tmp_path: Path, receiver) -> None:
    store = open_store(str(tmp_path))
    lines: list[str] = []
    errors: list[FlakehuntError] = []
    down = receiver([500] * 10)
    notify = Notifications(
        [
            to_lines(lines.append),
            to_webhook(down.url, attempts=2, backoff=0),
            to_store(store, location="fra-office"),
        ],
        on_error=errors.append,
    )
    notify([FRA])
    assert lines == [f"raised: {FRA.text}"]
    assert [type(e) for e in errors] == [NotifyError], "the webhook failed, the others still ran"
    [record] = store.alerts.read()
    assert record["kind"] == "raised"
    assert record["configuration"] == {"edge_pop": "FRA56-C1", "browser": "chromium"}
    assert (record["recent_failures"], record["recent_runs"]) == (7, 10)
