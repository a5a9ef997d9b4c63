"""A local stand-in for a Slack incoming webhook: an HTTP server on 127.0.0.1 that records
every JSON payload posted to it and answers like Slack (200 ``ok``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class SlackSink:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink._lock:
                    sink.payloads.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/not-a-secret"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for p in self.payloads:
                    if match(p):
                        return p
            time.sleep(0.1)
        raise AssertionError(f"no matching Slack payload in {timeout}s; got {self.payloads}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def text_of(payload: dict[str, Any]) -> str:
    """Everything a payload shows: its fallback text and the text of its blocks."""
    parts = [payload.get("text", "")]
    for block in payload.get("blocks", []):
        if isinstance(block.get("text"), dict):
            parts.append(block["text"].get("text", ""))
        for el in block.get("elements", []):
            parts.append(el.get("text", ""))
    return "\n".join(parts)


@pytest.fixture
def slack_sink() -> Iterator[SlackSink]:
    sink = SlackSink()
    yield sink
    sink.close()
