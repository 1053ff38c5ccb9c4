"""The sandbox's HTTP server: routing, the order of the checks, faults and the sandbox-only
endpoints under ``/_sandbox/``.

An ``/api/v1`` request goes through, in this order: the rate limit (429), fault rules and the
random error rate (answered without acting), the route (404, 405), the bearer token (401), the
read-only switch (403), the Idempotency-Key (a replay, 422, or waiting for the same key in
flight), then the endpoint itself. ``LatencyMs`` delays every answer; for a request that acts it
is spent while the request is in flight, so concurrent retries really overlap it.
"""

import re
import signal
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import page
from .api import WRITE_METHODS, Api, Credentials, Request, Response, Route, malformed
from .errors import ApiError, Problem, invalid, not_found
from .faults import Faults, fault_error
from .runtime import IdempotencyGate, RateLimiter, Settings, Stats, Tokens
from .store import Store
from .validation import reject_unknown

DEMO_USERNAME = "api.demo@provider.example"
DEMO_PASSWORD = "sandbox-demo-password"
DEMO_CLIENT_KEY = "sandbox-demo-client-key"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_BODY_BYTES = 10 * 1024 * 1024
SEED_PREFIX = r"^[A-Za-z0-9-]{1,26}$"

Resolved = tuple[Route, dict[str, str]] | None


class Sandbox:
    """Everything behind the HTTP layer: the store, the contract's endpoints and the controls."""

    def __init__(self, store: Store, credentials: Credentials, *, feeds: bool = True) -> None:
        self.store = store
        self.settings = Settings(feeds=feeds)
        self.faults = Faults()
        self.tokens = Tokens()
        self.limiter = RateLimiter(self.faults.rate_limit_per_second)
        self.stats = Stats()
        self.idempotency = IdempotencyGate(store)
        self.api = Api(store, self.tokens, self.faults, credentials, self.settings)
        self.controls: dict[str, dict[str, Callable[[Request], Response]]] = {
            "/_sandbox/reset": {"POST": self.reset},
            "/_sandbox/outbox": {"GET": self.outbox},
            "/_sandbox/faults": {"GET": self.faults_get, "PUT": self.faults_put},
            "/_sandbox/settings": {"GET": self.settings_get, "PUT": self.settings_put},
            "/_sandbox/advance": {"POST": self.advance},
            "/_sandbox/seed": {"POST": self.seed},
            "/_sandbox/stats": {"GET": self.stats_get},
            "/_sandbox/stats/reset": {"POST": self.stats_reset},
        }

    def handle(self, request: Request) -> Response | None:
        """The answer to a request, or None when a fault says to drop it unanswered."""
        if request.path == "/api/v1" or request.path.startswith("/api/v1/"):
            return self._api(request)
        if request.path in self.controls:
            return self._control(request, self.controls[request.path])
        if request.path == "/":
            return self._control(request, {"GET": self.home})
        return Response.error(not_found(f"Nothing at {request.path}."))

    # The contract's API ----------------------------------------------------------------------

    def _api(self, request: Request) -> Response | None:
        resolved = self.api.resolve(request.path)
        route_name = f"{request.method} {resolved[0].template if resolved else '(no route)'}"
        response = self._api_answer(request, resolved)
        if self.faults.take_drop(request.method, request.path):
            self.stats.count(route_name, None)
            return None
        self.stats.count(route_name, response.status)
        return response

    def _pause(self) -> None:
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)

    def _answer(self, outcome: ApiError | tuple[int, str]) -> Response:
        """A response that did not act: an error, or a remembered (status, body) replayed."""
        self._pause()
        if isinstance(outcome, ApiError):
            return Response.error(outcome)
        response = Response(*outcome)
        response.headers["Idempotent-Replayed"] = "true"
        return response

    def _api_answer(self, request: Request, resolved: Resolved) -> Response:
        try:
            handler, params = self._admit(request, resolved)
        except ApiError as error:
            return self._answer(error)
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and request.client_key and key is not None:
            return self.idempotency.run(
                request.client_key,
                key,
                request,
                lambda: self._act(handler, request, params),
                self._answer,
            )
        return self._act(handler, request, params)

    def _admit(
        self, request: Request, resolved: Resolved
    ) -> tuple[Callable[..., Response], dict[str, str]]:
        """The checks made before a request may act, in the contract's order."""
        wait = self.limiter.take()
        if wait is not None:
            raise ApiError.of(
                429,
                "rate_limited",
                f"Over {self.faults.rate_limit_per_second:g} requests per second: retry after "
                f"{wait} s.",
                headers={"Retry-After": str(wait)},
            )
        rule = self.faults.take_rule(request.method, request.path)
        if rule is not None:
            raise fault_error(rule.status or 503, f"rule for {rule.path.pattern}")
        if self.faults.draw_error():
            raise fault_error(self.faults.error_status, "random error rate")
        if resolved is None:
            raise not_found(f"No endpoint at {request.path}.")
        route, params = resolved
        handler = route.methods.get(request.method)
        if handler is None:
            raise ApiError.of(
                405,
                "method_not_allowed",
                f"{route.template} takes {', '.join(route.methods)}, not {request.method}.",
                headers={"Allow": ", ".join(route.methods)},
            )
        if not route.public:
            request.client_key = self.tokens.client_key_for(request.headers.get("Authorization"))
            if self.faults.read_only and request.method in WRITE_METHODS:
                raise ApiError.of(403, "read_only", "This client key is read-only.")
        return handler, params

    def _act(
        self, handler: Callable[..., Response], request: Request, params: dict[str, str]
    ) -> Response:
        self._pause()
        try:
            return handler(request, **params)
        except ApiError as error:
            return Response.error(error)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return Response.error(
                ApiError.of(500, "server_error", "The sandbox failed: see its log.")
            )

    # Sandbox-only endpoints -------------------------------------------------------------------

    def _control(
        self, request: Request, methods: dict[str, Callable[[Request], Response]]
    ) -> Response:
        handler = methods.get(request.method)
        try:
            if handler is None:
                raise ApiError.of(
                    405,
                    "method_not_allowed",
                    f"{request.path} takes {', '.join(methods)}, not {request.method}.",
                    headers={"Allow": ", ".join(methods)},
                )
            return handler(request)
        except ApiError as error:
            return Response.error(error)

    @staticmethod
    def _body(request: Request, *, optional: bool = False) -> dict[str, Any]:
        request.no_query()
        if optional and not request.body:
            return {}
        return request.json_object()

    def reset(self, request: Request) -> Response:
        reject_unknown(sorted(self._body(request, optional=True)), "field")
        self.store.reset()
        self.settings.reset()
        self.faults.reset()
        self.limiter.configure(self.faults.rate_limit_per_second)
        self.tokens.clear()
        self.stats.reset()
        return Response.json(200, {"Reset": True})

    def outbox(self, request: Request) -> Response:
        request.no_query()
        return Response(200, f'{{"Items":[{",".join(self.store.outbox())}]}}')

    def faults_get(self, request: Request) -> Response:
        request.no_query()
        return Response.json(200, self.faults.as_json())

    def faults_put(self, request: Request) -> Response:
        changes = self._body(request)
        self.faults.update(changes)
        if "RateLimitPerSecond" in changes:
            self.limiter.configure(self.faults.rate_limit_per_second)
        return Response.json(200, self.faults.as_json())

    def settings_get(self, request: Request) -> Response:
        request.no_query()
        return Response.json(200, self.settings.as_json())

    def settings_put(self, request: Request) -> Response:
        self.settings.update(self._body(request))
        return Response.json(200, self.settings.as_json())

    def advance(self, request: Request) -> Response:
        body = self._body(request)
        reject_unknown(sorted(set(body) - {"Days", "RealClockSessions"}), "field")
        days = body.get("Days")
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
            raise invalid([Problem("validation", "Days must be a whole number 0-3650.", "Days")])
        real_clock = body.get("RealClockSessions", True)
        if not isinstance(real_clock, bool):
            raise invalid(
                [
                    Problem(
                        "validation",
                        "RealClockSessions must be true or false.",
                        "RealClockSessions",
                    )
                ]
            )
        return Response.json(200, self.store.advance(days, real_clock_sessions=real_clock))

    def seed(self, request: Request) -> Response:
        body = self._body(request)
        reject_unknown(sorted(set(body) - {"Learners", "CoursesPerLearner", "Prefix"}), "field")
        count = body.get("Learners")
        per_learner = body.get("CoursesPerLearner", 3)
        prefix = body.get("Prefix", "BENCH")
        problems = []
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
            problems.append(
                Problem("validation", "Learners must be a whole number 1-100000.", "Learners")
            )
        if isinstance(per_learner, bool) or not isinstance(per_learner, int) or per_learner < 1:
            problems.append(
                Problem(
                    "validation",
                    "CoursesPerLearner must be a whole number, 1 or more.",
                    "CoursesPerLearner",
                )
            )
        if not isinstance(prefix, str) or not re.match(SEED_PREFIX, prefix):
            problems.append(
                Problem(
                    "validation",
                    "Prefix must be 1-26 letters, digits or hyphens.",
                    "Prefix",
                )
            )
        if problems:
            raise invalid(problems)
        return Response.json(200, {"Created": self.store.bulk_seed(count, per_learner, prefix)})

    def stats_get(self, request: Request) -> Response:
        request.no_query()
        return Response.json(200, self.stats.as_json())

    def stats_reset(self, request: Request) -> Response:
        reject_unknown(sorted(self._body(request, optional=True)), "field")
        self.stats.reset()
        return Response.json(200, {"Reset": True})

    def home(self, request: Request) -> Response:
        html = page.render(
            self.store.overview(),
            self.faults.as_json(),
            self.store.now(),
            feeds=self.settings.feeds,
        )
        return Response(200, html, content_type="text/html; charset=utf-8")


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox_factory: Callable[[str], Sandbox]):
        super().__init__(address, SandboxRequestHandler)
        self.log_requests = True
        self.sandbox = sandbox_factory(self.url)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up in DNS, which can stall start-up.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SmartAssessorSandbox/1.0"
    # Headers and body go out in separate writes; without TCP_NODELAY the second waits for
    # the client's delayed ACK, about 40 ms on every keep-alive request.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def _dispatch(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except ApiError as error:
            self.close_connection = True
            self._send(Response.error(error), started)
            return
        target = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=target.path,
            target=self.path,
            query_pairs=parse_qsl(target.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        response = self.server.sandbox.handle(request)
        if response is None:
            self.close_connection = True
            self._log(f'"{self.command} {self.path}" dropped after acting', started)
            return
        self._send(response, started)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length", "0").strip() or "0"
        if not length_text.isdigit():
            raise malformed("Content-Length must be a number of bytes.")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise malformed(f"The body is over {MAX_BODY_BYTES} bytes.")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise malformed("The chunked body is not well formed.") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing the sandbox uses
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise malformed(f"The body is over {MAX_BODY_BYTES} bytes.")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, response: Response, started: float) -> None:
        body = response.text.encode("utf-8")
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._log(f'"{self.command} {self.path}" {response.status}', started)

    def _log(self, what: str, started: float) -> None:
        if self.server.log_requests:
            elapsed = (time.perf_counter() - started) * 1000
            sys.stderr.write(f"[sandbox] {self.client_address[0]} {what} {elapsed:.1f} ms\n")

    def log_message(self, template: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(template, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Each answer is logged by ``_log`` with its time instead."""


def create_server(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    username: str = DEMO_USERNAME,
    password: str = DEMO_PASSWORD,
    client_key: str = DEMO_CLIENT_KEY,
    data_path: str | None = None,
    feeds: bool = True,
) -> SandboxHTTPServer:
    """Bind the server (port 0 picks a free port) and open its store, without serving yet."""
    credentials = Credentials(username, password, client_key)
    return SandboxHTTPServer(
        (host, port),
        lambda url: Sandbox(Store(data_path, login_url=f"{url}/"), credentials, feeds=feeds),
    )


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    username: str = DEMO_USERNAME,
    password: str = DEMO_PASSWORD,
    client_key: str = DEMO_CLIENT_KEY,
    data_path: str | None = None,
    feeds: bool = True,
    log_requests: bool = True,
    announce: Callable[[str], None] = print,
) -> None:
    """Run the sandbox until Ctrl-C or SIGTERM, announcing where it listens first."""
    server = create_server(
        host=host,
        port=port,
        username=username,
        password=password,
        client_key=client_key,
        data_path=data_path,
        feeds=feeds,
    )
    server.log_requests = log_requests
    announce(f"Smart Assessor sandbox listening on {server.url}")
    announce(
        f"Data: {data_path} (kept across restarts)"
        if data_path
        else "Data: in memory (lost when the sandbox stops; use --data FILE to keep it)"
    )
    if (username, password, client_key) == (DEMO_USERNAME, DEMO_PASSWORD, DEMO_CLIENT_KEY):
        announce(
            f"Demo credentials, for the demo only: Username {username}, Password {password}, "
            f"ClientKey {client_key}"
        )
    else:
        announce(f"Credentials: Username {username}, with the password and client key given")
    if not feeds:
        announce(
            "Change feeds off: ModifiedSince and AfterId are unknown query parameters "
            '(PUT /_sandbox/settings {"Feeds": true} turns them on).'
        )
    announce("Quit with CONTROL-C.")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.sandbox.store.close()
        announce("Smart Assessor sandbox stopped.")
