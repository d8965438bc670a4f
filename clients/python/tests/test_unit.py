"""Unit tests of the retry rules, the error mapping and the parsers,
against scripted answers (httpx.MockTransport): the Go client's
client/retry_test.go, and more."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
import time
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import httpx
import pytest

import octostore
from octostore import AsyncClient, Client, Retry, _core
from octostore._errors import from_answer
from octostore._models import parse_time

from conftest import free_port_url

LOCK = (
    b'{"status":"acquired","name":"a","lease_id":"550e8400-e29b-41d4-a716-446655440000",'
    b'"fencing_token":7,"expires_at":"2030-01-01T00:00:00.123456789Z","holder":"alice"}'
)
FAST = Retry(attempts=4, min=0.001, max=0.005)

Answer = Callable[[httpx.Request], httpx.Response]


def answer(status: int, code: str = "", body: Optional[bytes] = None, retry_after: Optional[str] = None) -> Answer:
    def make(req: httpx.Request) -> httpx.Response:
        headers = {"X-Request-Id": "req-1"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        elif status == 503:
            headers["Retry-After"] = "0"
        content = body if body is not None else b'{"error":"x","code":"%s"}' % code.encode()
        return httpx.Response(status, headers=headers, content=content)

    return make


def fail(exc: type) -> Answer:
    def make(req: httpx.Request) -> httpx.Response:
        raise exc("scripted failure", request=req)

    return make


class Script:
    """Answers the i-th request with answers[i] (the last from then on)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = answers
        self.requests: List[httpx.Request] = []

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.requests.append(req)
        return self.answers[min(len(self.requests), len(self.answers)) - 1](req)

    @property
    def n(self) -> int:
        return len(self.requests)


def scripted(*answers: Answer, retry: Retry = FAST) -> Tuple[Client, Script]:
    s = Script(*answers)
    return Client("http://octostore.test", "tok", retry=retry, transport=httpx.MockTransport(s)), s


def test_no_leader_is_retried_for_writes() -> None:
    c, s = scripted(answer(503, "no_leader"), answer(503, "shutting_down"), answer(200, body=LOCK))
    lk = c.acquire("a", 1)
    assert lk.fencing_token == 7 and s.n == 3
    assert lk.expires_at == dt.datetime(2030, 1, 1, 0, 0, 0, 123456, tzinfo=dt.timezone.utc)
    req = s.requests[0]
    assert req.headers["authorization"] == "Bearer tok" and req.url.path == "/locks/a/acquire"
    assert req.content == b'{"ttl_seconds":1}'


def test_outcome_unknown_is_not_retried() -> None:
    c, s = scripted(answer(503, "outcome_unknown"), answer(200, body=LOCK))
    with pytest.raises(octostore.OutcomeUnknown) as e:
        c.acquire("a", 1)
    assert isinstance(e.value, octostore.Unavailable) and e.value.request_id == "req-1" and s.n == 1
    c, s = scripted(answer(503, "timeout"), answer(200, body=LOCK))
    with pytest.raises(octostore.OutcomeUnknown):
        c.renew("a", "x", 1)
    assert s.n == 1


def test_reads_are_retried() -> None:
    c, s = scripted(answer(503, "timeout"), answer(429, "too_many_streams", retry_after="0"),
                    answer(200, body=b'{"status":"available","name":"a"}'))
    st = c.get("a")
    assert not st.held and s.n == 3
    c, s = scripted(answer(503, "no_leader"))
    with pytest.raises(octostore.Unavailable) as e:
        c.get("a")
    assert not isinstance(e.value, octostore.OutcomeUnknown) and s.n == 4


def test_release_is_idempotent() -> None:
    c, s = scripted(answer(503, "outcome_unknown"), answer(404, "lock_not_found"))
    c.release("a", "x")
    assert s.n == 2
    c, s = scripted(answer(404, "lock_not_found"))
    with pytest.raises(octostore.NotFound):
        c.release("a", "x")
    assert s.n == 1
    c, s = scripted(answer(503, "outcome_unknown"), answer(204, body=b""))
    c.delete_session("x")
    assert s.n == 2


def test_broken_connection_after_sending() -> None:
    c, s = scripted(fail(httpx.RemoteProtocolError), answer(200, body=LOCK))
    with pytest.raises(octostore.OutcomeUnknown):
        c.acquire("a", 1)
    assert s.n == 1
    c, s = scripted(fail(httpx.ReadTimeout), answer(200, body=b'{"status":"available","name":"a"}'))
    assert not c.get("a").held and s.n == 2
    c, s = scripted(fail(httpx.ReadError), answer(200, body=b"{}"))
    c.release("a", "x")  # idempotent: repeated
    assert s.n == 2
    c, s = scripted(fail(httpx.ConnectError), answer(200, body=LOCK))
    assert c.acquire("a", 1).fencing_token == 7 and s.n == 2  # never sent: repeated


def test_connection_refused_is_unavailable() -> None:
    c = Client(free_port_url(), "tok", retry=Retry(3, 0.001, 0.002))
    with pytest.raises(octostore.Unavailable) as e:
        c.acquire("a", 1)
    assert not isinstance(e.value, octostore.OutcomeUnknown)


def test_rate_limited_write_is_not_retried_and_read_honours_retry_after() -> None:
    c, s = scripted(answer(429, "rate_limited", retry_after="1"), answer(200, body=LOCK), retry=Retry(5, 0.001, 2))
    with pytest.raises(octostore.RateLimited) as e:
        c.acquire("a", 1)
    assert e.value.retry_after == 1 and s.n == 1
    assert _core.backoff(Retry(5, 0.001, 2), 1, e.value) >= 1
    assert _core.backoff(Retry(5, 0.001, 0.5), 1, e.value) == 0.5  # capped at max


@pytest.mark.parametrize(
    "status,code,method,cls",
    [
        (409, "lock_held", "POST", octostore.LockHeld),
        (404, "lock_not_found", "POST", octostore.NotFound),
        (404, "namespace_not_found", "DELETE", octostore.NotFound),
        (401, "unauthorized", "GET", octostore.Unauthorized),
        (403, "forbidden", "GET", octostore.Forbidden),
        (403, "token_scope", "POST", octostore.TokenScope),
        (410, "session_expired", "POST", octostore.SessionExpired),
        (400, "bad_request", "POST", octostore.Invalid),
        (413, "payload_too_large", "POST", octostore.Invalid),
        (422, "validation_error", "POST", octostore.Invalid),
        (429, "rate_limited", "POST", octostore.RateLimited),
        (503, "no_leader", "POST", octostore.Unavailable),
        (503, "outcome_unknown", "POST", octostore.OutcomeUnknown),
        (503, "timeout", "POST", octostore.OutcomeUnknown),
        (503, "timeout", "GET", octostore.Unavailable),
        (500, "internal", "GET", octostore.APIError),
        (405, "method_not_allowed", "GET", octostore.APIError),
    ],
)
def test_error_mapping(status: int, code: str, method: str, cls: type) -> None:
    e = from_answer(method, "/p", status, {"x-request-id": "r", "retry-after": "3"},
                    b'{"error":"msg","details":"more","code":"%s"}' % code.encode())
    assert type(e) is cls and e.status == status and e.code == code
    assert (e.message, e.details, e.request_id, e.retry_after) == ("msg", "more", "r", 3.0)
    assert "msg" in str(e) and code in str(e) and "request r" in str(e)


def test_lock_held_carries_the_holder() -> None:
    e = from_answer("POST", "/locks/a/acquire", 409, {},
                    b'{"error":"held","code":"lock_held","lock":{"name":"a","holder":"bob",'
                    b'"expires_at":"2026-12-04T13:32:31.126138378+01:00"}}')
    assert isinstance(e, octostore.LockHeld) and e.holder == "bob" and e.name == "a"
    assert e.expires_at == dt.datetime(2026, 12, 4, 12, 32, 31, 126138, tzinfo=dt.timezone.utc)


def test_non_json_error() -> None:
    e = from_answer("GET", "/x", 502, {}, b"<html>bad gateway</html>")
    assert type(e) is octostore.APIError and e.status == 502 and e.code is None


def test_parse_time() -> None:
    assert parse_time("2026-11-27T01:01:56.15Z") == dt.datetime(2026, 11, 27, 1, 1, 56, 150000, tzinfo=dt.timezone.utc)
    assert parse_time("2026-11-27T01:01:56Z") == dt.datetime(2026, 11, 27, 1, 1, 56, tzinfo=dt.timezone.utc)
    assert parse_time("nonsense") is None and parse_time(None) is None


def test_sse_parser() -> None:
    p = _core.SSEParser()
    lines = [": heartbeat", "", "id: 5", "event: acquired",
             'data: {"lock":"a","holder_id":"u","fencing_token":3,"timestamp":"2026-01-01T00:00:00Z"}', ""]
    out = [p.feed(line) for line in lines]
    assert out[:5] == [None] * 5
    ev = out[5]
    assert ev is not None and (ev.id, ev.type, ev.lock, ev.holder_id, ev.fencing_token) == (5, "acquired", "a", "u", 3)
    assert p.feed("event: reset") is None and p.feed('data: {"reason":"gone"}') is None
    reset = p.feed("")
    assert reset is not None and reset.type == "reset" and reset.reason == "gone" and reset.id is None
    p.feed("event: error")
    p.feed('data: {"reason":"too far behind"}')
    with pytest.raises(octostore.StreamEnded):
        p.feed("")


def test_kept_ttl_margin_matches_go() -> None:
    assert _core.kept_ttl(3, 30, None) == (3.0, 1.0)
    assert _core.kept_ttl(30, 30, None) == (30.0, 3.0)
    assert _core.kept_ttl(2, 30, None) == (2.0, 2 / 3)
    assert _core.kept_ttl(1.2, 30, None) == (2.0, 2 / 3)  # whole seconds, rounded up
    assert _core.kept_ttl(None, 30, None) == (30.0, 3.0)
    with pytest.raises(octostore.Invalid):
        _core.kept_ttl(3, 30, 3)


def test_lock_path_escapes_components() -> None:
    assert _core.lock_path("jobs/nightly report", "acquire") == "/locks/jobs/nightly%20report/acquire"


def test_namespace_calls() -> None:
    page = _core.list_namespaces("acme", 5)
    assert (page.method, page.path, page.query, page.kind) == (
        "GET", "/namespaces", {"after": "acme", "limit": "5"}, _core.Kind.READ
    )
    assert _core.list_namespaces(None, None).query == {}
    rel = _core.release_namespace("a b")  # escaped; the server refuses it (422)
    assert (rel.method, rel.path, rel.kind) == ("DELETE", "/namespaces/a%20b", _core.Kind.WRITE)
    doc = {"namespaces": [{"name": "acme", "account": "github-org:9919", "bound_at": "2030-01-01T00:00:00Z"}],
           "next_after": None}
    got = page.parse(doc, {})
    assert got.next_after is None and got.namespaces == [
        octostore.Namespace("acme", "github-org:9919", dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    ]


def test_election_list_call() -> None:
    page = _core.list_elections("svc/", "svc/a", 2, True)
    assert (page.method, page.path, page.query, page.kind) == (
        "GET", "/elections", {"prefix": "svc/", "after": "svc/a", "limit": "2", "stale": "true"}, _core.Kind.READ
    )
    assert _core.list_elections(None, None, None, False).query == {}
    doc = {"elections": [{"status": "leader", "name": "svc/b", "leader": "alice",
                          "lease_id": "550e8400-e29b-41d4-a716-446655440000", "term": 7, "value": "b:1",
                          "since": "2030-01-01T00:00:00Z", "expires_at": "2030-01-01T00:00:30Z"}],
           "total": 1, "next_after": "svc/b"}
    got = page.parse(doc, {})
    assert (got.total, got.next_after) == (1, "svc/b")
    e = got.elections[0]
    assert (e.name, e.elected, e.leader, e.term, e.value) == ("svc/b", True, "alice", 7, "b:1")
    assert e.expires_at == dt.datetime(2030, 1, 1, 0, 0, 30, tzinfo=dt.timezone.utc)
    assert page.parse({"elections": [], "total": 0, "next_after": None}, {}) == octostore.ElectionList([], 0, None)


def test_token_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("OCTOSTORE_URL", "OCTOSTORE_TOKEN", "OCTOSTORE_TOKEN_FILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    assert Client().url == "http://127.0.0.1:3000" and Client().token == ""
    monkeypatch.setenv("OCTOSTORE_URL", "http://10.0.0.1:3000/")
    monkeypatch.setenv("OCTOSTORE_TOKEN", "from-env")
    c = Client()
    assert (c.url, c.token) == ("http://10.0.0.1:3000", "from-env")
    assert Client(token="arg").token == "arg"
    monkeypatch.delenv("OCTOSTORE_TOKEN")
    f = tmp_path / "tok"
    f.write_text("from-file\n")
    os.chmod(f, 0o600)
    monkeypatch.setenv("OCTOSTORE_TOKEN_FILE", str(f))
    assert Client().token == "from-file"
    os.chmod(f, 0o644)
    with pytest.raises(octostore.Unauthorized):
        Client()
    monkeypatch.setenv("OCTOSTORE_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(OSError):
        Client()
    login = tmp_path / "cfg" / "octostore" / "token"
    login.parent.mkdir(parents=True)
    login.write_text("from-login")
    os.chmod(login, stat.S_IRUSR | stat.S_IWUSR)
    monkeypatch.delenv("OCTOSTORE_TOKEN_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert Client().token == "from-login"
    with pytest.raises(octostore.Invalid):
        Client("localhost:3000")


def test_lease_lost_when_renewals_never_confirm() -> None:
    renewals = Script(answer(503, "no_leader"))
    c = Client("http://octostore.test", "tok", retry=FAST, transport=httpx.MockTransport(
        lambda req: answer(200, body=LOCK)(req) if req.url.path.endswith("/acquire") else renewals(req)))
    sent = time.monotonic()
    lease = c.lock("a", ttl=1)
    assert lease.lost.wait(2)
    took = time.monotonic() - sent
    assert 1 - 1 / 3 - 0.05 <= took < 1, took  # at sent + ttl - margin
    with pytest.raises(octostore.LeaseLost):
        lease.check()
    assert renewals.n >= 1


def test_lease_lost_at_once_when_renewal_refused() -> None:
    c = Client("http://octostore.test", "tok", retry=FAST, transport=httpx.MockTransport(
        lambda req: answer(200, body=LOCK)(req) if req.url.path.endswith("/acquire")
        else answer(404, "lock_not_found")(req)))
    lease = c.lock("a", ttl=3)
    assert lease.lost.wait(2) and isinstance(lease.reason, octostore.LeaseLost)
    assert time.monotonic() < lease.deadline


def test_async_client_shares_the_rules() -> None:
    async def main() -> None:
        s = Script(answer(503, "no_leader"), answer(200, body=LOCK))
        async with AsyncClient("http://octostore.test", "tok", retry=FAST, transport=httpx.MockTransport(s)) as c:
            assert (await c.acquire("a", 1)).fencing_token == 7 and s.n == 2
        s = Script(answer(503, "outcome_unknown"))
        async with AsyncClient("http://octostore.test", "tok", retry=FAST, transport=httpx.MockTransport(s)) as c:
            with pytest.raises(octostore.OutcomeUnknown):
                await c.acquire("a", 1)
            assert s.n == 1
        s = Script(answer(503, "outcome_unknown"), answer(404, "lock_not_found"))
        async with AsyncClient("http://octostore.test", "tok", retry=FAST, transport=httpx.MockTransport(s)) as c:
            await c.release("a", "x")
            assert s.n == 2

    asyncio.run(main())
