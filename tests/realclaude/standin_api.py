"""A tiny stand-in for the Anthropic Messages API, for running the real Claude Code
CLI offline in tests.  Standard library only.

    with StandinAPI() as api:
        env = claude_env(home, workdir, api.url)
        ...
        api.limit_until(time.time() + 3600)   # next requests get a 5-hour-limit 429
        api.clear_limit()

Replies are "ok: <first 40 chars of the last user text>".
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "claude-sonnet-4-5"


def _last_user_text(body: dict[str, Any]) -> str:
    """Text of the last user message (string content or text blocks)."""
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            texts = [
                b.get("text", "")
                for b in content
                if isinstance(b, dict) and b.get("type") == "text"
            ]
            # Claude Code prepends <system-reminder> blocks; the user's text is last.
            real = [t for t in texts if not t.lstrip().startswith("<system-reminder>")]
            if real:
                return real[-1]
            if texts:
                return texts[-1]
        return ""
    return ""


def _approx_tokens(body: dict[str, Any]) -> int:
    return max(1, len(json.dumps(body)) // 4)


class StandinAPI:
    """Threaded HTTP server on 127.0.0.1:<free port> answering the Messages API."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._limit_until: float | None = None
        self.requests: list[dict[str, Any]] = []  # {"path", "body", "status"}
        self.reply_delay = 0.0  # seconds to sleep before answering /v1/messages
        self._tool: tuple[str, dict[str, Any]] | None = None

    # ----- lifecycle -------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("StandinAPI not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "StandinAPI":
        if self._server is not None:
            return self
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="standin-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "StandinAPI":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- usage-limit switch ----------------------------------------------
    def limit_until(self, epoch: float) -> None:
        """Answer /v1/messages with a 5-hour-limit 429 (reset = epoch) until the reset passes, as
        the real API does, or until cleared."""
        with self._lock:
            self._limit_until = float(epoch)

    def clear_limit(self) -> None:
        with self._lock:
            self._limit_until = None

    @property
    def limited(self) -> bool:
        with self._lock:
            return self._limit_until is not None

    def _current_limit(self) -> float | None:
        with self._lock:
            if self._limit_until is not None and time.time() >= self._limit_until:
                self._limit_until = None
            return self._limit_until

    # ----- tool use ----------------------------------------------------------
    def use_tool_once(self, name: str, tool_input: dict[str, Any]) -> None:
        """Answer the next conversation turn (a request offering tools) with one tool_use block."""
        with self._lock:
            self._tool = (name, tool_input)

    def _take_tool(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        with self._lock:
            if self._tool is None or not body.get("tools") or not body.get("stream"):
                return None
            tool, self._tool = self._tool, None
            return tool

    # ----- inspection ------------------------------------------------------
    def message_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"].startswith("/v1/messages")
                    and "count_tokens" not in r["path"]]

    def _record(self, path: str, body: Any, status: int) -> None:
        with self._lock:
            self.requests.append({"path": path, "body": body, "status": status,
                                  "time": time.time()})


def _make_handler(api: StandinAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        # -- helpers
        def _read_body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            try:
                return json.loads(raw)
            except ValueError:
                return {}

        def _send_json(self, status: int, obj: Any,
                       headers: dict[str, str] | None = None) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", "req_" + uuid.uuid4().hex[:24])
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        # -- verbs
        def do_GET(self) -> None:
            api._record(self.path, None, 200)
            self._send_json(200, {})

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            body = self._read_body()
            path = self.path.split("?", 1)[0]
            if path == "/v1/messages/count_tokens":
                api._record(self.path, body, 200)
                self._send_json(200, {"input_tokens": _approx_tokens(body)})
                return
            if path != "/v1/messages":
                api._record(self.path, body, 200)
                self._send_json(200, {})
                return
            reset = api._current_limit()
            if reset is not None:
                api._record(self.path, body, 429)
                self._send_limit(int(reset))
                return
            api._record(self.path, body, 200)
            if api.reply_delay:
                time.sleep(api.reply_delay)
            text = "ok: " + _last_user_text(body)[:40]
            model = body.get("model") or MODEL
            tool = api._take_tool(body)
            if tool is not None:
                self._send_stream(model, text, body, tool)
            elif body.get("stream"):
                self._send_stream(model, text, body)
            else:
                self._send_json(200, _message(model, text, body))

        def _send_limit(self, reset: int) -> None:
            headers = {
                "anthropic-ratelimit-unified-status": "rejected",
                "anthropic-ratelimit-unified-reset": str(reset),
                "anthropic-ratelimit-unified-5h-status": "rejected",
                "anthropic-ratelimit-unified-5h-reset": str(reset),
                "anthropic-ratelimit-unified-representative-claim": "five_hour",
                "retry-after": str(max(1, reset - int(time.time()))),
                "x-should-retry": "false",
            }
            self._send_json(
                429,
                {"type": "error",
                 "error": {"type": "rate_limit_error",
                           "message": "This request would exceed your account's rate limit. "
                                      "Please try again later."}},
                headers,
            )

        def _send_stream(self, model: str, text: str, body: dict[str, Any],
                         tool: tuple[str, dict[str, Any]] | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.send_header("request-id", "req_" + uuid.uuid4().hex[:24])
            self.end_headers()
            self.close_connection = True
            msg = _message(model, "", body)
            msg["content"] = []
            msg["stop_reason"] = None
            msg["usage"]["output_tokens"] = 1
            if tool is None:
                block = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": text}
            else:
                block = {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24], "name": tool[0], "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(tool[1])}
            events = [
                ("message_start", {"type": "message_start", "message": msg}),
                ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                ("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": "end_turn" if tool is None else "tool_use",
                                             "stop_sequence": None},
                                   "usage": {"output_tokens": max(1, len(text) // 4)}}),
                ("message_stop", {"type": "message_stop"}),
            ]
            try:
                for name, data in events:
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def _message(model: str, text: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": _approx_tokens(body), "output_tokens": max(1, len(text) // 4),
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


if __name__ == "__main__":  # manual use: python standin_api.py
    import sys

    with StandinAPI(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0) as _api:
        print(_api.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
