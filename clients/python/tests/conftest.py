"""The conformance harness (clients/conformance.md): the octostore binary
built once per session with `go build`, servers on 127.0.0.1 with temp
data dirs and static tokens, stopped whatever happens, and a TCP proxy
that can drop an answer."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[3]

ALICE = "alice-conformance-token-01"
BOB = "bob-conformance-token-002"
CAROL = "carol-conformance-token-03"
TOKENS = f"alice:{ALICE},bob:{BOB},carol:{CAROL}"


def _go() -> str:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.path.exists(go):
        pytest.fail("go is needed to build the octostore binary")
    return go


@pytest.fixture(scope="session")
def octostore_bin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Under pytest's temp root, which pytest prunes itself should this run
    # be killed before the finally below.
    d = tmp_path_factory.mktemp("octostore-bin")
    out = str(d / "octostore")
    try:
        r = subprocess.run(
            [_go(), "build", "-o", out, "./cmd/octostore"], cwd=REPO, capture_output=True, text=True,
            preexec_fn=_die_with_parent,
        )
        if r.returncode != 0:
            pytest.fail(f"go build failed:\n{r.stdout}{r.stderr}")
        yield out
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _die_with_parent() -> None:
    # The kernel SIGKILLs the server when the test process dies, however
    # it dies: a killed test run leaves no server behind.
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class Server:
    """`octostore serve` on a temp data dir; restartable on it."""

    def __init__(self, binary: str, data_dir: str, args: List[str]) -> None:
        self.binary, self.data_dir, self.args = binary, data_dir, args
        self.proc: Optional[subprocess.Popen[str]] = None
        self.addr = ""
        self.log: List[str] = []

    def start(self, listen: str = "127.0.0.1:0") -> "Server":
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCTOSTORE_")}
        env["OCTOSTORE_TOKENS"] = TOKENS
        cmd = [self.binary, "serve", "--listen", listen, "--data-dir", self.data_dir, "--log-format", "json", *self.args]
        self.proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, preexec_fn=_die_with_parent,
        )
        serving: "List[str]" = []
        ready = threading.Event()
        proc = self.proc

        def drain() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.log.append(line)
                if not ready.is_set():
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("msg") == "octostore serving":
                        serving.append(entry["addr"])
                        ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(30) or not serving:
            self.kill()
            pytest.fail("octostore did not start serving:\n" + "".join(self.log))
        self.addr = serving[0]
        return self

    @property
    def host_port(self) -> str:
        return self.addr.split("://", 1)[1]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; always reaped."""
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGCONT)
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.kill()
        p.wait()

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def metric(self, code: str, method: str, route: str) -> int:
        """octostore_http_requests_total for code, method and route."""
        want = f'octostore_http_requests_total{{code="{code}",method="{method}",route="{route}"}} '
        with urllib.request.urlopen(self.addr + "/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(want):
                    return int(float(line[len(want):]))
        return 0


ServerFactory = Callable[..., Server]


@pytest.fixture
def make_server(octostore_bin: str, tmp_path: Path) -> Iterator[ServerFactory]:
    """Starts servers with extra flags; every one is stopped at the end."""
    started: List[Server] = []

    def make(*args: str) -> Server:
        s = Server(octostore_bin, str(tmp_path / f"data{len(started)}"), list(args))
        started.append(s)
        return s.start()

    try:
        yield make
    finally:
        for s in started:
            s.stop()


@pytest.fixture
def server(make_server: ServerFactory) -> Server:
    return make_server()


class Proxy:
    """A TCP proxy on 127.0.0.1 that can drop the next answer: the request
    reaches the server, the client sees the connection close."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.addr = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self._mu = threading.Lock()
        self._drop = False
        self._conns: List[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def drop_next_answer(self) -> None:
        with self._mu:
            self._drop = True

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        with self._mu:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass

    def _accept(self) -> None:
        while not self._closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            with self._mu:
                self._conns += [c, up]
            threading.Thread(target=self._pipe, args=(c, up, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(up, c, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if answers:
                    with self._mu:
                        drop, self._drop = self._drop, False
                    if drop:
                        break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@pytest.fixture
def make_proxy() -> Iterator[Callable[[str], Proxy]]:
    proxies: List[Proxy] = []

    def make(target: str) -> Proxy:
        p = Proxy(target)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


def poll(cond: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Waits for cond, checking every 20 ms, failing after within s."""
    end = time.monotonic() + within
    while not cond():
        if time.monotonic() > end:
            pytest.fail(f"{what}: not reached within {within}s")
        time.sleep(0.02)


def free_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"
