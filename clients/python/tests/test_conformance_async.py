"""Conformance scenarios again with the asyncio client, for the parts
where it has code of its own (sending, leases, sessions, streams)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Coroutine, List, TypeVar

import pytest

import octostore
from octostore import AsyncClient, Event, Retry

from conftest import ALICE, BOB, CAROL, Proxy, Server, ServerFactory

FAST = Retry(attempts=5, min=0.01, max=2.0)
T = TypeVar("T")


def run(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(fn())


def aclient(s: Server, token: str) -> AsyncClient:
    return AsyncClient(s.addr, token, retry=FAST)


def test_c01_acquire_renew_release_async(server: Server) -> None:
    async def main() -> None:
        async with aclient(server, ALICE) as alice:
            lk = await alice.acquire("c01/job", 30, metadata="nightly")
            assert lk.status == "acquired" and lk.holder == "alice" and lk.fencing_token > 0
            assert (await alice.acquire("c01/job", 30)).lease_id == lk.lease_id
            st = await alice.get("c01/job")
            assert st.held and st.lease_id == lk.lease_id and st.metadata == "nightly"
            await alice.renew("c01/job", lk.lease_id, 120)
            await alice.release("c01/job", lk.lease_id)
            assert not (await alice.get("c01/job")).held
            with pytest.raises(octostore.NotFound):
                await alice.renew("c01/job", lk.lease_id, 30)
            async with alice.lock("c01/kept", ttl=2) as lease:
                start = time.monotonic()
                while time.monotonic() - start < 3.5:
                    st = await alice.get("c01/kept")
                    assert st.held and st.lease_id == lease.lease_id
                    await asyncio.sleep(0.05)
                lease.check()
            assert not (await alice.get("c01/kept")).held
            with pytest.raises(ZeroDivisionError):
                async with alice.lock("c01/kept", ttl=2):
                    1 / 0
            assert not (await alice.get("c01/kept")).held

    run(main)


def test_c03_conflict_and_errors_async(server: Server) -> None:
    async def main() -> None:
        async with aclient(server, ALICE) as alice, aclient(server, BOB) as bob:
            lk = await alice.acquire("c03/lock", 30)
            with pytest.raises(octostore.LockHeld) as e:
                await bob.acquire("c03/lock", 30)
            assert e.value.holder == "alice" and e.value.expires_at == lk.expires_at
            assert e.value.request_id

    run(main)


def test_c04_session_ends_locks_async(server: Server) -> None:
    async def main() -> None:
        async with aclient(server, ALICE) as alice:
            async with alice.session(ttl=10) as sess:
                async with sess.lock("c04/helper", ttl=30):
                    st = await alice.get("c04/helper")
                    assert st.held and st.session_id == sess.session_id
                await sess.lock("c04/kept-by-session", ttl=30)
            assert not (await alice.get("c04/kept-by-session")).held
            assert not (await alice.get_session(sess.session_id)).active

    run(main)


def test_c06_wait_fifo_async(server: Server) -> None:
    async def main() -> None:
        async with aclient(server, ALICE) as alice, aclient(server, BOB) as bob, aclient(server, CAROL) as carol:
            la = await alice.acquire("c06/q", 60)
            tb = asyncio.ensure_future(bob.acquire("c06/q", 60, wait=30))
            while (await alice.get("c06/q")).waiters < 1:
                await asyncio.sleep(0.02)
            tc = asyncio.ensure_future(carol.acquire("c06/q", 60, wait=30))
            while (await alice.get("c06/q")).waiters < 2:
                await asyncio.sleep(0.02)
            await alice.release("c06/q", la.lease_id)
            lb = await asyncio.wait_for(tb, 10)
            assert lb.holder == "bob" and not tc.done()
            await bob.release("c06/q", lb.lease_id)
            lc = await asyncio.wait_for(tc, 10)
            assert lc.holder == "carol" and lc.fencing_token > lb.fencing_token

    run(main)


def test_c07_events_resume_restart_async(make_server: ServerFactory) -> None:
    s = make_server()
    first = s.host_port

    async def main() -> None:
        async with aclient(s, ALICE) as alice:
            index = (await alice.get("c07/a")).index
            got: List[Event] = []
            stream = alice.events(prefix="c07/", last_event_id=index)

            async def watch() -> None:
                async for ev in stream:
                    got.append(ev)

            task = asyncio.ensure_future(watch())

            async def wait_events(n: int) -> None:
                end = time.monotonic() + 15
                while len(got) < n:
                    assert time.monotonic() < end, got
                    await asyncio.sleep(0.02)

            la = await alice.acquire("c07/a", 60)
            await wait_events(1)
            n = got[0].id
            # Stopping and starting block the loop for a moment, on purpose:
            # servers are started from the main thread, whose death kills them.
            s.stop()
            s.start()
            async with aclient(s, ALICE) as other:
                await other.release("c07/a", la.lease_id)
                await other.acquire("c07/b", 60)
                await other.acquire("x07/ignored", 60)
            s.stop()
            s.start(listen=first)
            await alice.acquire("c07/c", 60)
            await wait_events(4)
            await stream.aclose()  # from another task than the one iterating
            await asyncio.wait_for(task, 5)
            assert [(e.type, e.lock) for e in got[1:]] == [
                ("released", "c07/a"),
                ("acquired", "c07/b"),
                ("acquired", "c07/c"),
            ]
            ids = [e.id or 0 for e in got]
            assert ids == sorted(set(ids)) and ids[1] > (n or 0)

    run(main)


def test_c08_lease_lost_refused_renewal_async(server: Server) -> None:
    async def main() -> None:
        async with aclient(server, ALICE) as alice, aclient(server, BOB) as bob:
            async with alice.lock("c08/lock", ttl=3) as lease:
                await alice.release("c08/lock", lease.lease_id)
                await asyncio.wait_for(lease.lost.wait(), 2.5)
                assert time.monotonic() < lease.deadline
                with pytest.raises(octostore.LeaseLost):
                    lease.check()
                assert (await bob.acquire("c08/lock", 30)).status == "acquired"
            assert (await alice.get("c08/lock")).holder == "bob"

    run(main)


def test_c09_lease_lost_deadline_async(make_server: ServerFactory) -> None:
    s = make_server()

    async def main() -> None:
        async with aclient(s, ALICE) as alice:
            sent = time.monotonic()
            lease = await alice.lock("c09/lock", ttl=3)
            s.pause()
            try:
                lease.check()
                await asyncio.wait_for(lease.lost.wait(), 5)
                took = time.monotonic() - sent
                assert 3 - 1.0 - 0.1 <= took < 3, took
            finally:
                s.resume()
            await lease.release()

    run(main)


def test_c10_unknown_outcome_async(server: Server, make_proxy: Callable[[str], Proxy]) -> None:
    proxy = make_proxy(server.host_port)

    async def main() -> None:
        async with aclient(server, ALICE) as alice, AsyncClient(proxy.addr, ALICE, retry=FAST) as via:
            proxy.drop_next_answer()
            with pytest.raises(octostore.OutcomeUnknown):
                await via.acquire("c10/lock", 30)
            st = await alice.get("c10/lock")
            assert st.held and st.lease_id
            proxy.drop_next_answer()
            await via.release("c10/lock", st.lease_id)
            assert not (await alice.get("c10/lock")).held
            proxy.drop_next_answer()
            async with via.lock("c10/helper", ttl=30) as lease:
                st = await alice.get("c10/helper")
                assert (lease.lease_id, lease.fencing_token) == (st.lease_id, st.fencing_token)
            assert not (await alice.get("c10/helper")).held

    run(main)


def test_c11_rate_limit_backoff_async(make_server: ServerFactory) -> None:
    s = make_server("--rate-limit", "1", "--rate-burst", "2")

    async def main() -> None:
        async with aclient(s, ALICE) as alice, AsyncClient(s.addr, ALICE, retry=Retry(attempts=1)) as once:
            for _ in range(10):
                try:
                    await once.get("c11/x")
                except octostore.RateLimited:
                    break
            with pytest.raises(octostore.RateLimited) as e:
                await alice.acquire("c11/lock", 30)
            assert e.value.retry_after == 1
            start = time.monotonic()
            assert (await alice.get("c11/x")).status == "available"
            assert time.monotonic() - start >= 0.9

    run(main)


def test_c13_c14_c15_helpers_async(server: Server) -> None:
    async def main() -> None:
        async with aclient(server, ALICE) as alice, aclient(server, BOB) as bob:
            async with alice.lock("c13/async", ttl=30, limit=2) as slot:
                assert (slot.lock.limit, slot.lock.mode) == (2, "exclusive")
                with pytest.raises(octostore.LimitMismatch) as mm:
                    await bob.acquire("c13/async", 30, limit=3)
                assert mm.value.limit == 2
            async with alice.lock("c14/async", ttl=30, shared=True) as ra, bob.lock("c14/async", ttl=30, shared=True):
                st = await alice.get("c14/async")
                assert ra.lock.mode == "shared" and st.mode == "shared" and len(st.holders or []) == 2

            async with alice.lead("c15/kept-async", ttl=2, value="k") as leader:
                start = time.monotonic()
                while time.monotonic() - start < 3.5:
                    el = await alice.get_election("c15/kept-async")
                    assert el.elected and (el.lease_id, el.term) == (leader.lease_id, leader.term)
                    await asyncio.sleep(0.05)
                leader.check()
            assert not (await alice.get_election("c15/kept-async")).elected
            seen: List[octostore.Election] = []
            async for obs in alice.observe_election("c15/kept-async", wait=1):
                seen.append(obs)
                break
            assert seen and not seen[0].elected

    run(main)
