"""A local stand-in for OpenAI's `POST /v1/embeddings`, for tests (loopback only).

Request  {model, input: list[str] | str, encoding_format?: "float" | "base64", dimensions?}
Response {object: "list", data: [{object: "embedding", index, embedding}], model,
          usage: {prompt_tokens, total_tokens}}

Vectors are deterministic per (text, width): a unit vector drawn from a generator seeded with
the text's sha256, shortened to `dimensions` and re-normalised as the real API does. Every
request body is recorded (`requests`, with the status answered in `statuses`) so tests can
search exactly what was sent. `fail_next(n, status)` answers the next n requests with that
status. Like the real API, the fake rejects empty strings, more than 2048 inputs, an input
over `max_input_tokens` (counted by `token_counter`, when both are given), and `dimensions`
on text-embedding-ada-002.

    with FakeOpenAI() as fake:
        OpenAIEmbedder(api_key="test", base_url=fake.base_url)
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

MODEL_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


def fake_vector(text: str, width: int, native: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(native).astype(np.float32)[:width]
    return v / np.linalg.norm(v)


class FakeOpenAI:
    def __init__(self, *, max_input_tokens: int | None = None,
                 token_counter: Callable[[Sequence[str]], list[int]] | None = None,
                 max_inputs: int = 2048):
        self.max_input_tokens = max_input_tokens
        self.token_counter = token_counter
        self.max_inputs = max_inputs
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        self._failures: list[tuple[int, dict]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ----------------------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 429, retry_after: float | None = None) -> None:
        """Answer the next `n` requests with `status` (optionally with a Retry-After header)."""
        headers = {} if retry_after is None else {"retry-after": str(retry_after)}
        with self._lock:
            self._failures.extend([(status, headers)] * n)

    def sent_texts(self) -> list[str]:
        """Every input string of every request answered 200, in order."""
        out: list[str] = []
        for body, status in zip(self.requests, self.statuses):
            if status == 200:
                inp = body.get("input")
                out.extend([inp] if isinstance(inp, str) else inp)
        return out

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.statuses.clear()
            self.headers.clear()
            self._failures.clear()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_unparsed": raw.decode("utf-8", "replace")}
                status, headers, payload = fake._answer(self.path, body)
                with fake._lock:
                    fake.requests.append(body)
                    fake.statuses.append(status)
                    fake.headers.append(dict(self.headers.items()))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the API ----------------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, message: str, kind: str, code: str | None = None, headers=None):
        return status, headers or {}, {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def _answer(self, path: str, body: dict):
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, headers = failure
            kind = "rate_limit_exceeded" if status == 429 else "server_error"
            return self._error(status, f"injected failure {status}", kind, kind, headers)
        if path.rstrip("/") != "/v1/embeddings":
            return self._error(404, f"no route {path}", "invalid_request_error")
        model = body.get("model")
        if model not in MODEL_DIMS:
            return self._error(404, f"The model `{model}` does not exist", "invalid_request_error", "model_not_found")
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
            return self._error(400, "'$.input' is invalid", "invalid_request_error")
        if len(inputs) > self.max_inputs:
            return self._error(400, f"too many inputs: {len(inputs)} > {self.max_inputs}", "invalid_request_error")
        if any(t == "" for t in inputs):
            return self._error(400, "'$.input' is invalid: empty string", "invalid_request_error")
        native = MODEL_DIMS[model]
        width = body.get("dimensions")
        if width is not None:
            if model == "text-embedding-ada-002":
                return self._error(400, "This model does not support specifying dimensions.", "invalid_request_error")
            if not isinstance(width, int) or not 1 <= width <= native:
                return self._error(400, f"invalid dimensions {width}", "invalid_request_error")
        else:
            width = native
        counts = list(self.token_counter(inputs)) if self.token_counter else [len(t.split()) for t in inputs]
        if self.max_input_tokens is not None and self.token_counter is not None:
            worst = max(counts)
            if worst > self.max_input_tokens:
                return self._error(400, f"This model's maximum context length is {self.max_input_tokens} tokens, "
                                        f"however you requested {worst} tokens", "invalid_request_error")
        fmt = body.get("encoding_format") or "float"
        data = []
        for i, text in enumerate(inputs):
            v = fake_vector(text, width, native)
            emb = base64.b64encode(v.astype("<f4").tobytes()).decode() if fmt == "base64" else v.tolist()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        total = int(sum(counts))
        return 200, {}, {"object": "list", "data": data, "model": model,
                         "usage": {"prompt_tokens": total, "total_tokens": total}}
