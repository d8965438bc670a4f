"""The routes no conformance scenario covers, against the real binary."""

from __future__ import annotations

import asyncio
import io
from typing import List, Optional

import pytest

import octostore
from octostore import AsyncClient, Client

from conftest import ALICE, BOB, CAROL, ServerFactory


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


def test_namespace_routes(make_server: ServerFactory) -> None:
    # Under isolated tenancy a static user's first acquire under its own
    # namespace binds it to the account "user:<login>" (an administrator,
    # never confined, binds nothing).
    s = make_server("--tenancy", "isolated", "--admin-users", "carol")
    admin, alice, bob = Client(s.addr, CAROL), Client(s.addr, ALICE), Client(s.addr, BOB)
    admin.acquire("carol/x", 30)
    assert admin.list_namespaces().namespaces == []
    alice.acquire("alice/x", 30)
    bob.acquire("bob/x", 30)

    page = admin.list_namespaces(limit=1)
    assert [(n.name, n.account) for n in page.namespaces] == [("alice", "user:alice")]
    assert page.next_after == "alice"
    assert page.namespaces[0].bound_at.tzinfo is not None
    page = admin.list_namespaces(after=page.next_after, limit=1)
    assert [(n.name, n.account) for n in page.namespaces] == [("bob", "user:bob")]
    assert page.next_after is None
    assert [n.name for n in admin.list_all_namespaces()] == ["alice", "bob"]

    # Administrators only.
    with pytest.raises(octostore.Forbidden) as forbidden:
        bob.list_namespaces()
    assert forbidden.value.status == 403
    with pytest.raises(octostore.Forbidden):
        bob.release_namespace("alice")

    admin.release_namespace("bob")
    assert [n.name for n in admin.list_all_namespaces()] == ["alice"]
    assert bob.get("bob/x").held  # the locks under it are not touched
    with pytest.raises(octostore.NotFound) as gone:
        admin.release_namespace("bob")
    assert gone.value.status == 404 and gone.value.code == "namespace_not_found"

    async def run() -> None:
        async with AsyncClient(s.addr, CAROL) as a, AsyncClient(s.addr, BOB) as b:
            await b.acquire("bob/y", 30)  # binds bob anew
            page = await a.list_namespaces(after="alice")
            assert [(n.name, n.account) for n in page.namespaces] == [("bob", "user:bob")]
            assert [n.name for n in await a.list_all_namespaces()] == ["alice", "bob"]
            with pytest.raises(octostore.Forbidden):
                await b.list_namespaces()
            with pytest.raises(octostore.Forbidden):
                await b.release_namespace("bob")
            await a.release_namespace("bob")
            with pytest.raises(octostore.NotFound) as gone:
                await a.release_namespace("bob")
            assert gone.value.code == "namespace_not_found"

    asyncio.run(run())


def test_election_list(make_server: ServerFactory) -> None:
    s = make_server()
    alice, bob = Client(s.addr, ALICE), Client(s.addr, BOB)
    a = alice.campaign("el/a", 60, value="a:1")
    b = bob.campaign("el/b", 60, value="b:1")
    alice.campaign("elx/other", 60)  # outside the prefix
    alice.resign("el/vacant", alice.campaign("el/vacant", 60).lease_id)  # vacant: not listed

    page = alice.list_elections("el/")
    assert page.total == 2 and page.next_after is None
    assert [(e.name, e.elected, e.leader, e.lease_id, e.term, e.value) for e in page.elections] == [
        ("el/a", True, "alice", a.lease_id, a.term, "a:1"),
        ("el/b", True, "bob", b.lease_id, b.term, "b:1"),
    ]
    assert all(e.since is not None and e.expires_at is not None for e in page.elections)

    # One per page: every one exactly once, in name order.
    names: List[str] = []
    after: Optional[str] = None
    while True:
        page = alice.list_elections("el/", after=after, limit=1)
        assert page.total == len(page.elections) == 1
        names.append(page.elections[0].name)
        if page.next_after is None:
            break
        after = page.next_after
    assert names == ["el/a", "el/b"]
    assert [e.name for e in alice.list_all_elections("el/")] == ["el/a", "el/b"]
    assert [e.name for e in bob.list_all_elections()] == ["el/a", "el/b", "elx/other"]
    assert alice.list_elections("el/", stale=True).total == 2

    async def run() -> None:
        async with AsyncClient(s.addr, BOB) as ab:
            page = await ab.list_elections("el/", limit=1)
            assert [(e.name, e.leader, e.term) for e in page.elections] == [("el/a", "alice", a.term)]
            assert page.next_after == "el/a"
            page = await ab.list_elections("el/", after=page.next_after, limit=1)
            assert [(e.name, e.leader, e.term) for e in page.elections] == [("el/b", "bob", b.term)]
            assert page.next_after is None
            assert [e.name for e in await ab.list_all_elections("el/")] == ["el/a", "el/b"]

    asyncio.run(run())


def test_election_list_tenancy(make_server: ServerFactory) -> None:
    # Under isolated tenancy another user sees none of alice's elections,
    # and asking for her prefix is Forbidden.
    s = make_server("--tenancy", "isolated")
    alice, bob = Client(s.addr, ALICE), Client(s.addr, BOB)
    alice.campaign("alice/el/a", 60)
    alice.campaign("alice/el/b", 60)
    bob.campaign("bob/el/c", 60)
    assert [e.name for e in alice.list_all_elections()] == ["alice/el/a", "alice/el/b"]
    assert [e.name for e in bob.list_all_elections()] == ["bob/el/c"]
    with pytest.raises(octostore.Forbidden):
        bob.list_elections("alice/")

    async def run() -> None:
        async with AsyncClient(s.addr, BOB) as ab:
            assert [e.name for e in (await ab.list_elections()).elections] == ["bob/el/c"]
            with pytest.raises(octostore.Forbidden):
                await ab.list_elections("alice/el/")

    asyncio.run(run())
