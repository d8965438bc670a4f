"""The routes no conformance scenario covers, against the real binary."""

from __future__ import annotations

import asyncio
import io

import pytest

import octostore
from octostore import AsyncClient, Client

from conftest import ALICE, BOB, ServerFactory


def test_admin_and_cluster_routes(make_server: ServerFactory) -> None:
    s = make_server("--admin-users", "alice")
    alice, bob = Client(s.addr, ALICE), Client(s.addr, BOB)
    alice.health()
    cl = alice.cluster()
    assert cl.leader and len(cl.nodes) == 1 and cl.nodes[0].role == "leader"
    buf = io.BytesIO()
    assert alice.snapshot(buf) == len(buf.getvalue()) > 0
    with pytest.raises(octostore.Forbidden):
        bob.snapshot(io.BytesIO())
    assert len(alice.list_tokens(all_users=True)) >= 2
    with pytest.raises(octostore.Forbidden):
        bob.list_tokens(all_users=True)

    async def snap() -> int:
        async with AsyncClient(s.addr, ALICE) as a:
            return await a.snapshot(io.BytesIO())

    assert asyncio.run(snap()) > 0

    old = bob.token
    new = bob.rotate_token()
    assert new != old and bob.token == new
    bob.list()  # the new token works
    with pytest.raises(octostore.Unauthorized):
        Client(s.addr, old).list()


def test_blocking_get_and_stale_read(make_server: ServerFactory) -> None:
    s = make_server()
    alice = Client(s.addr, ALICE)
    st = alice.get("r/x")
    lk = alice.acquire("r/x", 30)
    changed = alice.get("r/x", wait=10, index=st.index)
    assert changed.held and changed.lease_id == lk.lease_id and changed.index > st.index
    assert alice.get("r/x", stale=True).held
    assert alice.list("r/", stale=True).total == 1
