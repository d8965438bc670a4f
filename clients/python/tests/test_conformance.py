"""clients/conformance.md, one test per scenario ID, with the synchronous
client against the real octostore binary."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import pytest

import octostore
from octostore import Client, Event, Retry

from conftest import ALICE, BOB, CAROL, Proxy, Server, ServerFactory, free_port_url, poll

FAST = Retry(attempts=5, min=0.01, max=2.0)


def client(s: Server, token: str, **kw: Any) -> Client:
    kw.setdefault("retry", FAST)
    return Client(s.addr, token, **kw)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def near(a: Optional[dt.datetime], b: dt.datetime, tol: float) -> bool:
    return a is not None and abs((a - b).total_seconds()) <= tol


def check_error(e: octostore.OctoStoreError, status: int, code: str) -> None:
    assert e.status == status and e.code == code and e.request_id, (e.status, e.code, e.request_id)


def test_c01_acquire_renew_release(server: Server) -> None:
    alice = client(server, ALICE)
    lk = alice.acquire("c01/job", 30, metadata="nightly")
    assert (lk.status, lk.name, lk.holder, lk.metadata) == ("acquired", "c01/job", "alice", "nightly")
    assert lk.lease_id and lk.fencing_token > 0
    assert near(lk.expires_at, now() + dt.timedelta(seconds=30), 2)
    again = alice.acquire("c01/job", 30)
    assert again.status == "held" and (again.lease_id, again.fencing_token) == (lk.lease_id, lk.fencing_token)
    st = alice.get("c01/job")
    assert st.held and st.holder == "alice" and st.lease_id == lk.lease_id
    assert st.fencing_token == lk.fencing_token and st.waiters == 0 and st.metadata == "nightly"
    r = alice.renew("c01/job", lk.lease_id, 120)
    assert r.expires_at >= lk.expires_at + dt.timedelta(seconds=60)
    alice.release("c01/job", lk.lease_id)
    st = alice.get("c01/job")
    assert not st.held and st.status == "available"
    with pytest.raises(octostore.NotFound) as e:
        alice.renew("c01/job", lk.lease_id, 30)
    check_error(e.value, 404, "lock_not_found")
    with pytest.raises(octostore.NotFound):
        alice.release("c01/job", lk.lease_id)

    # The helper keeps a 2 s lease past its TTL, and releases on exit.
    with alice.lock("c01/kept", ttl=2) as lease:
        start = time.monotonic()
        while time.monotonic() - start < 3.5:
            st = alice.get("c01/kept")
            assert st.held and st.lease_id == lease.lease_id
            time.sleep(0.05)
        lease.check()
        assert not lease.lost.is_set()
    assert not alice.get("c01/kept").held

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with alice.lock("c01/kept", ttl=2):
            raise Boom()
    assert not alice.get("c01/kept").held


def test_c02_list(server: Server) -> None:
    alice, bob = client(server, ALICE), client(server, BOB)
    for c, name in ((alice, "c02/a"), (alice, "c02/b"), (bob, "c02/c"), (alice, "c02x/other")):
        c.acquire(name, 60)
    page = alice.list("c02/", limit=2)
    assert page.total == 2 and [x.name for x in page.locks] == ["c02/a", "c02/b"] and page.next_after
    for x in page.locks:
        assert x.holder == "alice" and x.holder_id and x.fencing_token > 0 and x.expires_at
    page = alice.list("c02/", limit=2, after=page.next_after)
    assert [(x.name, x.holder) for x in page.locks] == [("c02/c", "bob")] and page.next_after is None
    assert [x.name for x in alice.list_all("c02/")] == ["c02/a", "c02/b", "c02/c"]


def test_c03_conflict_and_errors(server: Server) -> None:
    alice, bob = client(server, ALICE), client(server, BOB)
    lk = alice.acquire("c03/lock", 30)
    with pytest.raises(octostore.LockHeld) as held:
        bob.acquire("c03/lock", 30)
    check_error(held.value, 409, "lock_held")
    assert held.value.holder == "alice" and held.value.name == "c03/lock"
    assert near(held.value.expires_at, lk.expires_at, 0.001)

    before = server.metric("401", "GET", "/locks")
    with pytest.raises(octostore.Unauthorized) as e:
        client(server, "nobody-conformance-token").list()
    check_error(e.value, 401, "unauthorized")
    assert server.metric("401", "GET", "/locks") == before + 1, "a 401 is not retried"

    with pytest.raises(octostore.Invalid) as inv:
        alice.acquire("c03/bad", 0)
    check_error(inv.value, 422, "validation_error")

    with pytest.raises(octostore.NotFound) as nf:
        alice.keepalive("00000000-0000-4000-8000-000000000000")
    check_error(nf.value, 404, "session_not_found")


def test_c04_session_ends_locks(server: Server) -> None:
    alice, bob = client(server, ALICE), client(server, BOB)
    g = alice.create_session(10)
    assert g.session_id and g.keepalive_interval_secs == 5
    assert near(g.expires_at, now() + dt.timedelta(seconds=10), 2)
    for name in ("c04/a", "c04/b"):
        lk = alice.acquire(name, 60, session_id=g.session_id)
        assert lk.status == "acquired" and lk.session_id == g.session_id
    ss = alice.get_session(g.session_id)
    assert ss.active and ss.lock_count == 2
    assert alice.keepalive(g.session_id).expires_at > g.expires_at
    with pytest.raises(octostore.LockHeld):
        bob.acquire("c04/a", 60)
    alice.delete_session(g.session_id)
    assert not alice.get("c04/a").held and not alice.get("c04/b").held
    assert not alice.get_session(g.session_id).active
    with pytest.raises(octostore.SessionExpired) as e:
        alice.keepalive(g.session_id)
    check_error(e.value, 410, "session_expired")
    alice.delete_session(g.session_id)  # idempotent

    with alice.session(ttl=10) as sess:
        sess.lock("c04/helper", ttl=30)
        st = alice.get("c04/helper")
        assert st.held and st.session_id == sess.session_id
    assert not alice.get("c04/helper").held


def test_c05_fencing_across_holders(server: Server) -> None:
    alice, bob, carol = client(server, ALICE), client(server, BOB), client(server, CAROL)
    l1 = alice.acquire("c05/res", 30)
    alice.release("c05/res", l1.lease_id)
    l2 = bob.acquire("c05/res", 1)
    assert l2.fencing_token > l1.fencing_token
    l3 = carol.acquire("c05/res", 30, wait=10)
    granted = now()
    assert l3.status == "acquired" and l3.holder == "carol" and l3.fencing_token > l2.fencing_token
    assert granted >= l2.expires_at + dt.timedelta(seconds=1) - dt.timedelta(milliseconds=10)
    with pytest.raises(octostore.NotFound):
        bob.renew("c05/res", l2.lease_id, 30)
    with pytest.raises(octostore.NotFound):
        bob.release("c05/res", l2.lease_id)
    st = alice.get("c05/res")
    assert st.holder == "carol" and st.fencing_token == l3.fencing_token
    assert alice.acquire("c05/other", 30).fencing_token > l3.fencing_token


class Background:
    """Runs fn in a thread and keeps its result or error."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()

        def run() -> None:
            try:
                self.result = fn()
            except BaseException as e:  # noqa: B902 - handed to the test
                self.error = e
            self.done.set()

        threading.Thread(target=run, daemon=True).start()

    def get(self, within: float = 10) -> Any:
        assert self.done.wait(within), "no answer"
        if self.error is not None:
            raise self.error
        return self.result


def test_c06_wait_fifo(server: Server) -> None:
    alice, bob, carol = client(server, ALICE), client(server, BOB), client(server, CAROL)
    la = alice.acquire("c06/q", 60)
    b = Background(lambda: bob.acquire("c06/q", 60, wait=30))
    poll(lambda: alice.get("c06/q").waiters == 1, what="bob queued")
    c = Background(lambda: carol.acquire("c06/q", 60, wait=30))
    poll(lambda: alice.get("c06/q").waiters == 2, what="carol queued")
    alice.release("c06/q", la.lease_id)
    lb = b.get()
    assert lb.status == "acquired" and lb.holder == "bob" and lb.fencing_token > la.fencing_token
    st = alice.get("c06/q")
    assert st.holder == "bob" and st.waiters == 1 and not c.done.is_set()
    bob.release("c06/q", lb.lease_id)
    lc = c.get()
    assert lc.status == "acquired" and lc.holder == "carol" and lc.fencing_token > lb.fencing_token

    carol.acquire("c06/short", 60)
    start = time.monotonic()
    with pytest.raises(octostore.LockHeld) as e:
        alice.acquire("c06/short", 60, wait=1)
    assert e.value.holder == "carol" and time.monotonic() - start >= 0.9

    lcar = carol.acquire("c06/helper", 2)
    with alice.lock("c06/helper", ttl=5, wait=10) as lease:
        assert lease.fencing_token > lcar.fencing_token
        st = alice.get("c06/helper")
        assert st.holder == "alice" and st.lease_id == lease.lease_id
        lease.check()


def test_c07_events_resume_restart(make_server: ServerFactory, octostore_bin: str) -> None:
    s = make_server()
    first = s.host_port
    alice = client(s, ALICE)
    start_index = alice.get("c07/a").index
    got: List[Event] = []
    cond = threading.Condition()
    stream = alice.events(prefix="c07/", last_event_id=start_index)

    def watch() -> None:
        try:
            for ev in stream:
                with cond:
                    got.append(ev)
                    cond.notify_all()
        except Exception:  # closed at the end of the test
            pass

    threading.Thread(target=watch, daemon=True).start()

    def wait_events(n: int) -> List[Event]:
        with cond:
            assert cond.wait_for(lambda: len(got) >= n, timeout=15), f"events so far: {got}"
            return list(got)

    try:
        la = alice.acquire("c07/a", 60)
        (e,) = wait_events(1)
        assert e.type == "acquired" and e.lock == "c07/a" and e.holder_id and e.id
        assert e.fencing_token == la.fencing_token and e.timestamp is not None
        n = e.id

        # Events the watcher cannot see live: made on another port.
        s.stop()
        s.start()
        other = client(s, ALICE)
        other.release("c07/a", la.lease_id)
        other.acquire("c07/b", 60)
        other.acquire("x07/ignored", 60)
        s.stop()
        s.start(listen=first)
        assert s.host_port == first
        alice.acquire("c07/c", 60)
        events = wait_events(4)[1:]
        assert [(x.type, x.lock) for x in events] == [
            ("released", "c07/a"),
            ("acquired", "c07/b"),
            ("acquired", "c07/c"),
        ]
        ids = [n] + [x.id or 0 for x in events]
        assert ids == sorted(set(ids)), ids
    finally:
        stream.close()
    with cond:
        assert len(got) == 4, got

    with alice.events(prefix="c07/", last_event_id=n) as again:
        it = iter(again)
        resumed = [next(it) for _ in range(3)]
    assert [(x.id, x.type, x.lock) for x in resumed] == [(x.id, x.type, x.lock) for x in events]


def test_c08_lease_lost_refused_renewal(server: Server) -> None:
    alice, bob = client(server, ALICE), client(server, BOB)
    with alice.lock("c08/lock", ttl=3) as lease:
        alice.release("c08/lock", lease.lease_id)
        released = time.monotonic()
        assert lease.lost.wait(2.5), "lease not lost after its renewal was refused"
        lost = time.monotonic()
        assert lost - released <= 2.5 and lost < lease.deadline
        with pytest.raises(octostore.LeaseLost):
            lease.check()
        assert isinstance(lease.reason, octostore.LeaseLost)
        assert isinstance(lease.reason.__cause__, octostore.NotFound)
        assert bob.acquire("c08/lock", 30).status == "acquired"
    assert alice.get("c08/lock").holder == "bob"


def test_c09_lease_lost_deadline(make_server: ServerFactory) -> None:
    s = make_server()
    alice = client(s, ALICE)
    sent = time.monotonic()
    sent_wall = now()
    lease = alice.lock("c09/lock", ttl=3)
    expires = lease.lock.expires_at
    s.pause()
    try:
        lease.check()
        assert lease.lost.wait(5), "lease not lost while the server was paused"
        lost, lost_wall = time.monotonic(), now()
        with pytest.raises(octostore.LeaseLost):
            lease.check()
        margin = 1.0  # max(ttl/10, min(1 s, ttl/3)) for ttl 3
        assert lost_wall < expires, (lost_wall, expires)
        assert lost - sent >= 3 - margin - 0.1, lost - sent
        assert sent_wall < expires
    finally:
        s.resume()
    lease.release()


def test_c10_unknown_outcome(server: Server, make_proxy: Callable[[str], Proxy]) -> None:
    proxy = make_proxy(server.host_port)
    alice = client(server, ALICE)
    via = Client(proxy.addr, ALICE, retry=FAST)

    def acquires() -> Dict[str, int]:
        return {c: server.metric(c, "POST", "/locks/{name}/acquire") for c in ("200", "409", "429", "503")}

    before = acquires()
    proxy.drop_next_answer()
    with pytest.raises(octostore.OutcomeUnknown):
        via.acquire("c10/lock", 30)
    after = acquires()
    assert after["200"] == before["200"] + 1 and sum(after.values()) == sum(before.values()) + 1
    st = alice.get("c10/lock")
    assert st.held and st.holder == "alice" and st.lease_id

    proxy.drop_next_answer()
    via.release("c10/lock", st.lease_id)
    assert not alice.get("c10/lock").held

    # The helper resolves the unknown outcome with a status read.
    proxy.drop_next_answer()
    with via.lock("c10/helper", ttl=30) as lease:
        st = alice.get("c10/helper")
        assert st.held and st.holder == "alice"
        assert (lease.lease_id, lease.fencing_token) == (st.lease_id, st.fencing_token)
        lease.check()
    assert not alice.get("c10/helper").held

    closed = Client(free_port_url(), ALICE, retry=FAST)
    with pytest.raises(octostore.Unavailable) as e:
        closed.acquire("c10/never", 60)
    assert not isinstance(e.value, octostore.OutcomeUnknown)


def test_c11_rate_limit_backoff(make_server: ServerFactory) -> None:
    s = make_server("--rate-limit", "1", "--rate-burst", "2")
    alice, bob = client(s, ALICE), client(s, BOB)
    once = client(s, ALICE, retry=Retry(attempts=1))
    for _ in range(10):  # spend the burst: read until refused
        try:
            once.get("c11/x")
        except octostore.RateLimited:
            break
    else:
        pytest.fail("never rate limited")
    ok0, lim0 = s.metric("200", "POST", "/locks/{name}/acquire"), s.metric("429", "POST", "/locks/{name}/acquire")
    with pytest.raises(octostore.RateLimited) as e:
        alice.acquire("c11/lock", 30)
    check_error(e.value, 429, "rate_limited")
    assert e.value.retry_after == 1
    assert s.metric("200", "POST", "/locks/{name}/acquire") == ok0
    assert s.metric("429", "POST", "/locks/{name}/acquire") == lim0 + 1, "a 429 write is not repeated"

    lim0 = s.metric("429", "GET", "/locks/{name}")
    start = time.monotonic()
    st = alice.get("c11/x")
    took = time.monotonic() - start
    assert st.status == "available" and took >= 0.9, took
    assert s.metric("429", "GET", "/locks/{name}") > lim0, "the read was never refused"
    assert bob.acquire("c11/lock", 30).status == "acquired"


def test_c12_tokens_and_webhooks(make_server: ServerFactory) -> None:
    s = make_server("--webhook-allow-private")
    alice = client(s, ALICE)
    tok = alice.create_token("c12-ci", ["c12/"], ttl=3600)
    assert tok.token and tok.id and tok.access == "write" and tok.prefixes == ["c12/"] and tok.expires_at
    scoped = client(s, tok.token)
    lk = scoped.acquire("c12/ok", 60)
    assert lk.status == "acquired" and lk.holder == "alice"
    with pytest.raises(octostore.TokenScope) as e:
        scoped.acquire("other/x", 60)
    assert isinstance(e.value, octostore.Forbidden)
    check_error(e.value, 403, "token_scope")
    tokens = alice.list_tokens()
    assert any(t.id == tok.id and t.name == "c12-ci" for t in tokens)
    assert any(t.current and t.source == "static" and t.login == "alice" for t in tokens)
    alice.revoke_token(tok.id)
    with pytest.raises(octostore.Unauthorized):
        scoped.list("c12/")

    w = alice.add_webhook("https://127.0.0.1:9/hook", events=["acquired", "released"], lock_pattern="c12/**")
    assert w.id and w.active and w.secret is None
    assert any(x.id == w.id for x in alice.list_webhooks())
    alice.delete_webhook(w.id)
    assert all(x.id != w.id for x in alice.list_webhooks())
    with pytest.raises(octostore.NotFound):
        alice.delete_webhook(w.id)


def test_c13_semaphore_slots(server: Server) -> None:
    alice, bob = client(server, ALICE), client(server, BOB)
    with alice.lock("c13/pool", ttl=30, limit=2) as lease:
        assert (lease.lock.limit, lease.lock.mode) == (2, "exclusive")
        second = alice.acquire("c13/pool", 30, limit=2)
        assert second.status == "acquired" and second.lease_id != lease.lease_id
        assert second.fencing_token > lease.fencing_token and second.limit == 2
        with pytest.raises(octostore.LockHeld) as held:
            bob.acquire("c13/pool", 30, limit=2)
        check_error(held.value, 409, "lock_held")
        assert not isinstance(held.value, octostore.LimitMismatch)
        with pytest.raises(octostore.LimitMismatch) as mm:
            bob.acquire("c13/pool", 30, limit=3)
        check_error(mm.value, 409, "limit_mismatch")
        assert isinstance(mm.value, octostore.LockHeld) and mm.value.limit == 2
        st = alice.get("c13/pool")
        assert st.held and (st.limit, st.mode) == (2, "exclusive")
        assert [h.lease_id for h in st.holders or []] == [lease.lease_id, second.lease_id]
        b = Background(lambda: bob.acquire("c13/pool", 30, limit=2, wait=10))
        poll(lambda: alice.get("c13/pool").waiters == 1, what="bob queued")
        alice.release("c13/pool", second.lease_id)
        lb = b.get()
        assert lb.status == "acquired" and lb.holder == "bob" and lb.fencing_token > second.fencing_token
        lease.check()
    st = alice.get("c13/pool")
    assert [h.lease_id for h in st.holders or []] == [lb.lease_id]


def test_c14_read_write(server: Server) -> None:
    alice, bob, carol = client(server, ALICE), client(server, BOB), client(server, CAROL)
    with alice.lock("c14/cfg", ttl=30, shared=True) as ra, bob.lock("c14/cfg", ttl=30, shared=True) as rb:
        assert ra.lock.mode == "shared" and rb.lock.mode == "shared"
        assert rb.fencing_token > ra.fencing_token
        st = alice.get("c14/cfg")
        assert st.mode == "shared" and [h.lease_id for h in st.holders or []] == [ra.lease_id, rb.lease_id]
        w = Background(lambda: carol.acquire("c14/cfg", 30, wait=30))
        poll(lambda: alice.get("c14/cfg").waiters == 1, what="writer queued")
        with alice.session(ttl=30) as s:
            with pytest.raises(octostore.LockHeld):
                alice.acquire("c14/cfg", 30, mode="shared", session_id=s.session_id)
        assert not w.done.is_set()
    lw = w.get()
    assert lw.status == "acquired" and lw.holder == "carol" and lw.fencing_token > rb.fencing_token
    start = time.monotonic()
    with pytest.raises(octostore.LockHeld):
        bob.acquire("c14/cfg", 30, mode="shared", wait=1)
    assert time.monotonic() - start >= 0.9


def test_c15_election(server: Server) -> None:
    alice, bob = client(server, ALICE), client(server, BOB)
    assert not alice.get_election("c15/leader").elected
    seen: List[octostore.Election] = []

    def observe() -> None:
        for st in bob.observe_election("c15/leader", wait=5):
            seen.append(st)
            if len(seen) == 5:
                return

    threading.Thread(target=observe, daemon=True).start()

    def sees(elected: bool, leader: str = "", value: str = "") -> None:
        poll(
            lambda: bool(seen) and (seen[-1].elected, seen[-1].leader, seen[-1].value) == (elected, leader, value),
            what=f"observer sees {leader or 'vacant'} {value}",
        )

    sees(False)
    a = alice.campaign("c15/leader", 30, value="a:1")
    assert (a.status, a.leader, a.value, a.elected) == ("leader", "alice", "a:1", True)
    assert a.lease_id and a.term > 0
    sees(True, "alice", "a:1")
    again = alice.campaign("c15/leader", 30)
    assert (again.lease_id, again.term, again.value) == (a.lease_id, a.term, "a:1")
    with pytest.raises(octostore.LockHeld) as held:
        bob.campaign("c15/leader", 30)
    assert held.value.holder == "alice"
    assert alice.proclaim("c15/leader", a.lease_id, "a:2").value == "a:2"
    sees(True, "alice", "a:2")
    with pytest.raises(octostore.NotFound):
        alice.proclaim("c15/leader", "00000000-0000-4000-8000-000000000000", "x")
    b = Background(lambda: bob.campaign("c15/leader", 30, value="b:1", wait=30))
    poll(lambda: alice.get_election("c15/leader").waiting == 1, what="bob waiting")
    alice.resign("c15/leader", a.lease_id)
    lb = b.get()
    assert lb.leader == "bob" and lb.term > a.term and lb.value == "b:1"
    sees(True, "bob", "b:1")
    bob.resign("c15/leader", lb.lease_id)
    assert not alice.get_election("c15/leader").elected
    sees(False)

    with alice.lead("c15/kept", ttl=2, value="k") as leader:
        assert leader.status.value == "k" and leader.term > 0
        start = time.monotonic()
        while time.monotonic() - start < 3.5:
            st = alice.get_election("c15/kept")
            assert st.elected and (st.lease_id, st.term, st.leader) == (leader.lease_id, leader.term, "alice")
            time.sleep(0.05)
        leader.check()
        assert not leader.lost.is_set()
    assert not alice.get_election("c15/kept").elected
