"""A real HTTP file server on 127.0.0.1 for the zoo tests, and an isolated zoo environment."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Route:
    body: bytes
    cut: bool = False  # announce the full Content-Length, send half, close the connection
    pause: float = 0.0  # sleep this long after the first half of the body
    hang: float = 0.0  # sleep this long before answering at all


class FileServer:
    """Serves ``routes`` (path -> Route); 404 for anything else; counts GETs per path (thread-safe)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.gets: Counter[str] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.gets[self.path] += 1
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                time.sleep(route.hang)
                body = route.body
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                half = len(body) // 2
                self.wfile.write(body[:half])
                self.wfile.flush()
                if route.cut:
                    self.close_connection = True
                    return
                time.sleep(route.pause)
                self.wfile.write(body[half:])

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.running = True

    def add(self, path: str, body: bytes, **kw) -> str:
        """Serve ``body`` at ``path``; return its URL."""
        self.routes[path] = Route(body, **kw)
        return self.base + path

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.running = False


@pytest.fixture
def server():
    s = FileServer()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def zoo_env(tmp_path_factory, monkeypatch):
    """Cache and card directory in a fresh temp dir (returned), no offline/mirror settings leaking in,
    and no cards but the test's own."""
    from learnedaug.zoo import registry

    root = tmp_path_factory.mktemp("zoo_env")
    monkeypatch.setenv("LEARNEDAUG_HOME", str(root / "home"))
    monkeypatch.setenv("LEARNEDAUG_ZOO_PATH", str(root / "cards"))
    for var in ("LEARNEDAUG_OFFLINE", "LEARNEDAUG_MIRROR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(registry, "REPO_ZOO", root / "no-repo-zoo")
    monkeypatch.setattr(registry, "PACKAGED_ZOO", root / "no-packaged-zoo")
    (root / "cards").mkdir()
    return root
