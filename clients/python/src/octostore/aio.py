"""The asyncio client: the same requests, answers, errors and retry rules
as the synchronous one (both are built on octostore._core)."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any, AsyncGenerator, BinaryIO, AsyncIterator, Awaitable, Callable, Generator, List, Optional, Tuple, Type, TypeVar, Union

import httpx

from . import _core
from ._core import Call, Failure, Retry, TransportFailure
from ._errors import (
    LeadershipLost,
    LeaseLost,
    NotFound,
    OctoStoreError,
    OutcomeUnknown,
    SessionLost,
    Unavailable,
)
from ._models import (
    ClusterStatus,
    Election,
    ElectionList,
    Event,
    KeepAliveResult,
    ListedLock,
    Lock,
    LockList,
    LockStatus,
    Namespace,
    NamespaceList,
    NewToken,
    SessionGrant,
    SessionStatus,
    TokenInfo,
    Webhook,
)

T = TypeVar("T")


class AsyncClient:
    """The asyncio twin of Client: same arguments, same methods (awaited),
    ``async with client.lock(...) as lease:`` and ``async for event in
    client.events(...)``."""

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        token_file: Optional[str] = None,
        ca_file: Optional[str] = None,
        cert_file: Optional[str] = None,
        key_file: Optional[str] = None,
        timeout: float = 10.0,
        retry: Retry = Retry(),
        transport: Optional[httpx.AsyncBaseTransport] = None,
    ) -> None:
        self.url = _core.resolve_url(url)
        self.token = _core.resolve_token(token, token_file)
        self.timeout = timeout
        self.retry = retry if retry.attempts >= 1 else Retry(1, retry.min, retry.max)
        verify = _core.tls_context(ca_file, cert_file, key_file)
        self._http = httpx.AsyncClient(
            verify=verify, transport=transport, timeout=timeout, limits=_core.http_limits()
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # --- sending ---

    async def _do(self, call: Call[T], deadline: Optional[float] = None) -> T:
        return (await self._send(call, deadline))[0]

    async def _send(self, call: Call[T], deadline: Optional[float] = None) -> Tuple[T, Optional[httpx.Response]]:
        body = _core.encode_body(call)
        attempt = 1
        while True:
            timeout = _core.attempt_timeout(call, self.timeout, deadline)
            try:
                return await self._once(call, body, timeout)
            except (OctoStoreError, TransportFailure) as e:
                err: Failure = e
            await asyncio.sleep(_core.next_pause(call, self.retry, attempt, err, deadline))
            attempt += 1

    async def _once(
        self, call: Call[T], body: Optional[bytes], timeout: float
    ) -> Tuple[T, Optional[httpx.Response]]:
        req = self._http.build_request(**_core.request_args(call, self.url, self.token, body, timeout))
        try:
            resp = await self._http.send(req, stream=True)
        except httpx.HTTPError as e:
            raise _core.transport_failure(e) from e
        if call.stream and resp.is_success:
            return _core.decode_answer(call, b"", resp.headers), resp
        try:
            data = await resp.aread()
        except httpx.HTTPError as e:
            raise TransportFailure(e, sent=True) from e
        finally:
            await resp.aclose()
        return _core.answer(call, resp, data), None

    # --- locks ---

    async def acquire(
        self,
        name: str,
        ttl: float = 30,
        *,
        wait: float = 0,
        session_id: Optional[str] = None,
        metadata: Optional[str] = None,
        limit: Optional[int] = None,
        mode: Optional[str] = None,
    ) -> Lock:
        return await self._do(_core.acquire(name, ttl, wait, session_id, metadata, limit, mode))

    async def renew(self, name: str, lease_id: str, ttl: float = 30) -> Lock:
        return await self._do(_core.renew(name, lease_id, ttl))

    async def release(self, name: str, lease_id: str) -> None:
        await self._do(_core.release(name, lease_id))

    async def get(self, name: str, *, wait: float = 0, index: int = 0, stale: bool = False) -> LockStatus:
        return await self._do(_core.get(name, wait, index, stale))

    async def list(
        self, prefix: Optional[str] = None, *, after: Optional[str] = None, limit: Optional[int] = None, stale: bool = False
    ) -> LockList:
        return await self._do(_core.list_locks(prefix, after, limit, stale))

    async def list_all(self, prefix: Optional[str] = None) -> List[ListedLock]:
        return await _all_pages(lambda after: self.list(prefix, after=after), _core.lock_items)

    # --- sessions ---

    async def create_session(self, ttl: Optional[float] = None) -> SessionGrant:
        return await self._do(_core.create_session(ttl))

    async def keepalive(self, session_id: str) -> KeepAliveResult:
        return await self._do(_core.keepalive(session_id))

    async def get_session(self, session_id: str) -> SessionStatus:
        return await self._do(_core.get_session(session_id))

    async def delete_session(self, session_id: str) -> None:
        await self._do(_core.delete_session(session_id))

    # --- webhooks, tokens, cluster ---

    async def add_webhook(
        self,
        url: str,
        *,
        secret: Optional[str] = None,
        events: Optional[List[str]] = None,
        lock_pattern: Optional[str] = None,
    ) -> Webhook:
        return await self._do(_core.add_webhook(url, secret, events, lock_pattern))

    async def list_webhooks(self) -> List[Webhook]:
        return await self._do(_core.list_webhooks())

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._do(_core.delete_webhook(webhook_id))

    async def create_token(
        self, name: str, prefixes: List[str], *, read_only: bool = False, ttl: Optional[float] = None
    ) -> NewToken:
        return await self._do(_core.create_token(name, prefixes, read_only, ttl))

    async def list_tokens(self, all_users: bool = False) -> List[TokenInfo]:
        return await self._do(_core.list_tokens(all_users))

    async def revoke_token(self, token_id: str) -> None:
        await self._do(_core.revoke_token(token_id))

    async def rotate_token(self) -> str:
        self.token = await self._do(_core.rotate_token())
        return self.token

    # --- namespaces (administrators) ---

    async def list_namespaces(self, after: Optional[str] = None, limit: Optional[int] = None) -> NamespaceList:
        """One page of the owner namespaces bound to accounts (under
        ``--tenancy isolated``), in name order: those sorting after
        ``after``, at most ``limit`` (server default 1000); ``next_after``
        is set when more follow. Administrators only, else Forbidden."""
        return await self._do(_core.list_namespaces(after, limit))

    async def list_all_namespaces(self) -> List[Namespace]:
        """Every bound namespace, through all pages."""
        return await _all_pages(lambda after: self.list_namespaces(after), _core.namespace_items)

    async def release_namespace(self, name: str) -> None:
        """Frees a namespace's binding, so the next account to use it binds
        it anew (after a GitHub login changed hands); locks under it are not
        touched. Administrators only, else Forbidden; a namespace that is
        not bound raises NotFound (``namespace_not_found``). Not repeated
        once sent."""
        await self._do(_core.release_namespace(name))

    # --- system ---

    async def health(self) -> None:
        await self._do(_core.health())

    async def cluster(self) -> ClusterStatus:
        return await self._do(_core.cluster())

    async def remove_node(self, node_id: str) -> None:
        await self._do(_core.remove_node(node_id))

    async def snapshot(self, out: BinaryIO) -> int:
        """As Client.snapshot (out is written synchronously)."""
        _, resp = await self._send(_core.snapshot())
        assert resp is not None
        n = 0
        try:
            async for chunk in resp.aiter_bytes():
                out.write(chunk)
                n += len(chunk)
        except httpx.HTTPError as e:
            raise Unavailable(f"snapshot cut off after {n} bytes: {e}", method="GET", path="/cluster/snapshot") from e
        finally:
            await resp.aclose()
        return n

    # --- elections ---

    async def campaign(
        self,
        name: str,
        ttl: float = 30,
        *,
        value: Optional[str] = None,
        wait: float = 0,
        session_id: Optional[str] = None,
    ) -> Election:
        """As Client.campaign."""
        return await self._do(_core.campaign(name, ttl, wait, session_id, value))

    async def proclaim(self, name: str, lease_id: str, value: str) -> Election:
        return await self._do(_core.proclaim(name, lease_id, value))

    async def resign(self, name: str, lease_id: str) -> None:
        await self._do(_core.resign(name, lease_id))

    async def get_election(self, name: str, *, wait: float = 0, index: int = 0, stale: bool = False) -> Election:
        return await self._do(_core.get_election(name, wait, index, stale))

    async def list_elections(
        self, prefix: Optional[str] = None, *, after: Optional[str] = None, limit: Optional[int] = None, stale: bool = False
    ) -> ElectionList:
        """As Client.list_elections."""
        return await self._do(_core.list_elections(prefix, after, limit, stale))

    async def list_all_elections(self, prefix: Optional[str] = None) -> List[Election]:
        """As Client.list_all_elections."""
        return await _all_pages(lambda after: self.list_elections(prefix, after=after), _core.election_items)

    async def observe_election(self, name: str, *, wait: float = 60) -> AsyncIterator[Election]:
        """``async for leader in client.observe_election(name):`` as
        Client.observe_election."""
        last: Optional[Election] = None
        index, failures = 0, 0
        while True:
            try:
                st = await self.get_election(name, wait=wait if last is not None else 0, index=index)
            except OctoStoreError as e:
                if _core.stream_fatal(e):
                    raise
                failures += 1
                await asyncio.sleep(_core.backoff(self.retry, failures, e))
                continue
            failures, index = 0, st.index
            if _core.election_changed(last, st):
                last = st
                yield st

    # --- helpers ---

    def lock(
        self,
        name: str,
        ttl: float = 30,
        wait: float = 0,
        *,
        session: "Union[AsyncSession, str, None]" = None,
        metadata: Optional[str] = None,
        limit: Optional[int] = None,
        shared: bool = False,
        safety_margin: Optional[float] = None,
        renew_every: Optional[float] = None,
    ) -> "_Pending[AsyncLease]":
        """``async with client.lock(...) as lease:`` (or ``lease = await
        client.lock(...)``): as Client.lock (``limit`` for a semaphore's
        slot, ``shared`` for a reader), renewing in an asyncio task."""
        ttl, margin = _core.kept_ttl(ttl, 30, safety_margin)
        limit, mode = _core.lock_mode(limit, shared)
        every = _core.renew_interval(renew_every, ttl)
        session_id = session.session_id if isinstance(session, AsyncSession) else session
        return _Pending(lambda: self._hold(name, ttl, margin, every, wait, session_id, metadata, limit, mode))

    async def _hold(
        self,
        name: str,
        ttl: float,
        margin: float,
        every: float,
        wait: float,
        session_id: Optional[str],
        metadata: Optional[str],
        limit: Optional[int],
        mode: Optional[str],
    ) -> "AsyncLease":
        sent = time.monotonic()
        lk = await self._acquire_checked(name, ttl, wait, session_id, metadata, limit, mode)
        if _core.granted_late(wait, sent, every):
            sent = time.monotonic()
            try:
                await self.renew(name, lk.lease_id, ttl)
            except BaseException:
                try:
                    await self.release(name, lk.lease_id)
                except OctoStoreError:
                    pass
                raise
        return AsyncLease(self, lk, sent, ttl, margin, every)

    async def _acquire_checked(
        self,
        name: str,
        ttl: float,
        wait: float,
        session_id: Optional[str],
        metadata: Optional[str],
        limit: Optional[int],
        mode: Optional[str],
    ) -> Lock:
        start = time.monotonic()
        try:
            return await self.acquire(name, ttl, wait=wait, session_id=session_id, metadata=metadata, limit=limit, mode=mode)
        except OutcomeUnknown:
            st = await self.get(name)
        mine = _core.held_by_session(st, session_id)
        if mine is not None:
            return mine
        left = 0.0 if st.held else max(0.0, wait - (time.monotonic() - start))
        return await self.acquire(name, ttl, wait=left, session_id=session_id, metadata=metadata, limit=limit, mode=mode)

    def lead(
        self,
        name: str,
        ttl: float = 30,
        wait: float = 0,
        *,
        value: Optional[str] = None,
        session: "Union[AsyncSession, str, None]" = None,
        safety_margin: Optional[float] = None,
        renew_every: Optional[float] = None,
    ) -> "_Pending[AsyncLeadership]":
        """``async with client.lead(...) as leader:`` as Client.lead,
        renewing in an asyncio task."""
        ttl, margin = _core.kept_ttl(ttl, 30, safety_margin)
        every = _core.renew_interval(renew_every, ttl)
        session_id = session.session_id if isinstance(session, AsyncSession) else session
        return _Pending(lambda: self._lead(name, ttl, margin, every, wait, value, session_id))

    async def _lead(
        self,
        name: str,
        ttl: float,
        margin: float,
        every: float,
        wait: float,
        value: Optional[str],
        session_id: Optional[str],
    ) -> "AsyncLeadership":
        sent = time.monotonic()
        st = await self.campaign(name, ttl, value=value, wait=wait, session_id=session_id)
        if _core.granted_late(wait, sent, every):
            sent = time.monotonic()
            try:
                await self.campaign(name, ttl, session_id=session_id)
            except BaseException:
                try:
                    await self.resign(name, st.lease_id)
                except OctoStoreError:
                    pass
                raise
        return AsyncLeadership(self, st, session_id, sent, ttl, margin, every)

    def session(
        self, ttl: float = 60, *, keepalive_every: Optional[float] = None, safety_margin: Optional[float] = None
    ) -> "_Pending[AsyncSession]":
        """``async with client.session(ttl=30) as s:``, as Client.session."""
        ttl, margin = _core.kept_ttl(ttl, 60, safety_margin)

        async def start() -> AsyncSession:
            sent = time.monotonic()
            grant = await self.create_session(ttl)
            every = _core.keepalive_interval(keepalive_every, float(grant.keepalive_interval_secs), ttl, margin)
            return AsyncSession(self, grant, sent, ttl, margin, every)

        return _Pending(start)

    def events(self, prefix: Optional[str] = None, last_event_id: Optional[int] = None) -> "AsyncEventStream":
        """``async for event in client.events(prefix=...)``, as Client.events."""
        return AsyncEventStream(self, prefix, last_event_id)


C = TypeVar("C", bound="Union[AsyncLease, AsyncLeadership, AsyncSession]")


class _Pending(Awaitable[C]):
    """A lease or session being started: await it, or use it in ``async
    with`` (which ends it on exit, exceptions included)."""

    def __init__(self, start: Callable[[], Awaitable[C]]) -> None:
        self._start = start
        self._value: Optional[C] = None

    def __await__(self) -> Generator[Any, None, C]:
        return self._start().__await__()

    async def __aenter__(self) -> C:
        self._value = await self._start()
        return self._value

    async def __aexit__(
        self, typ: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        assert self._value is not None
        try:
            await self._value.aclose()
        except OctoStoreError:
            if exc is None:
                raise


class _AsyncKeeper:
    """_Keeper for asyncio: a task refreshes, a timer handle marks the
    local deadline."""

    def __init__(
        self,
        sent: float,
        ttl: float,
        margin: float,
        every: float,
        refresh: Callable[[float], Awaitable[Any]],
        lost_cls: Type[Exception],
        what: str,
    ) -> None:
        self.state = _core.KeepState(sent, ttl, margin, every, lost_cls, what)
        self._refresh = refresh
        self.lost = asyncio.Event()
        self.reason: Optional[Exception] = None
        self._loop = asyncio.get_running_loop()
        self._timer = self._start_timer()
        self._task = self._loop.create_task(self._run())

    @property
    def deadline(self) -> float:
        return self.state.deadline

    @property
    def expiry(self) -> float:
        return self.state.expiry

    def _start_timer(self) -> asyncio.TimerHandle:
        return self._loop.call_later(self.state.until_deadline(time.monotonic()), self._expired)

    def _expired(self) -> None:
        self._lose(self.state.expired())

    async def _run(self) -> None:
        st = self.state
        while not self.lost.is_set():
            await asyncio.sleep(st.next_wait())
            if self.lost.is_set():
                return
            sent = time.monotonic()
            try:
                await self._refresh(st.deadline)
            except Exception as e:  # anything but a refusal may pass: try again
                lost = st.failed(e)
                if lost is not None:
                    self._lose(lost)
                    return
            else:
                if not self.lost.is_set() and st.confirmed(sent):
                    self._timer.cancel()
                    self._timer = self._start_timer()
                st.refreshed()

    def _lose(self, reason: Exception) -> None:
        if self.lost.is_set():
            return
        self.reason = reason
        self._timer.cancel()
        self.lost.set()

    def check(self) -> None:
        if self.reason is not None:
            raise self.reason
        if self.state.late(time.monotonic()):
            self._expired()
            raise self.state.past_deadline()

    async def halt(self, reason: Exception) -> None:
        self._lose(reason)
        if self._task is not asyncio.current_task():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


class AsyncLease:
    """Lease for asyncio: ``lost`` is an asyncio.Event; ``check()``,
    ``fencing_token``, ``deadline`` as for Lease; ``await lease.aclose()``
    (or leaving ``async with``) releases."""

    def __init__(
        self, client: AsyncClient, lock: Lock, sent: float, ttl: float, margin: float, every: float
    ) -> None:
        self._client = client
        self.lock = lock
        self._keeper = _AsyncKeeper(sent, ttl, margin, every, self._renew, LeaseLost, "lease")

    async def _renew(self, deadline: float) -> None:
        await self._client._do(_core.renew(self.lock.name, self.lock.lease_id, self._keeper.state.ttl), deadline)

    @property
    def name(self) -> str:
        return self.lock.name

    @property
    def lease_id(self) -> str:
        return self.lock.lease_id

    @property
    def fencing_token(self) -> int:
        return self.lock.fencing_token

    @property
    def lost(self) -> asyncio.Event:
        return self._keeper.lost

    @property
    def reason(self) -> Optional[Exception]:
        return self._keeper.reason

    @property
    def deadline(self) -> float:
        return self._keeper.deadline

    @property
    def expiry(self) -> float:
        return self._keeper.expiry

    def check(self) -> None:
        self._keeper.check()

    async def aclose(self) -> None:
        """Stops renewing and releases the lock; a lost lease is not an error."""
        await self._keeper.halt(LeaseLost("lease released"))
        try:
            await self._client.release(self.lock.name, self.lock.lease_id)
        except NotFound:
            pass

    release = aclose


class AsyncLeadership:
    """Leadership for asyncio (AsyncClient.lead): ``lost`` is an
    asyncio.Event; ``await leader.aclose()`` (or leaving ``async with``)
    resigns."""

    def __init__(
        self,
        client: AsyncClient,
        status: Election,
        session_id: Optional[str],
        sent: float,
        ttl: float,
        margin: float,
        every: float,
    ) -> None:
        self._client = client
        self.status = status
        self._session_id = session_id
        self._keeper = _AsyncKeeper(sent, ttl, margin, every, self._renew, LeadershipLost, "leadership")

    async def _renew(self, deadline: float) -> None:
        name, ttl = self.status.name, self._keeper.state.ttl
        st = await self._client._do(_core.campaign(name, ttl, 0, self._session_id, None), deadline)
        lapsed = _core.term_lapsed(self.status, st)
        if lapsed is not None:
            try:
                await self._client.resign(name, st.lease_id)
            finally:
                raise lapsed

    @property
    def name(self) -> str:
        return self.status.name

    @property
    def lease_id(self) -> str:
        return self.status.lease_id

    @property
    def term(self) -> int:
        return self.status.term

    @property
    def lost(self) -> asyncio.Event:
        return self._keeper.lost

    @property
    def reason(self) -> Optional[Exception]:
        return self._keeper.reason

    def check(self) -> None:
        self._keeper.check()

    async def proclaim(self, value: str) -> Election:
        self.status = await self._client.proclaim(self.status.name, self.status.lease_id, value)
        return self.status

    async def aclose(self) -> None:
        """Stops renewing and resigns; a lost leadership is not an error."""
        await self._keeper.halt(LeadershipLost("leadership resigned"))
        try:
            await self._client.resign(self.status.name, self.status.lease_id)
        except NotFound:
            pass

    resign = aclose


class AsyncSession:
    """Session for asyncio."""

    def __init__(
        self, client: AsyncClient, grant: SessionGrant, sent: float, ttl: float, margin: float, every: float
    ) -> None:
        self._client = client
        self.grant = grant
        self._keeper = _AsyncKeeper(sent, ttl, margin, every, self._keepalive, SessionLost, "session")

    async def _keepalive(self, deadline: float) -> None:
        await self._client._do(_core.keepalive(self.grant.session_id), deadline)

    @property
    def session_id(self) -> str:
        return self.grant.session_id

    @property
    def lost(self) -> asyncio.Event:
        return self._keeper.lost

    @property
    def deadline(self) -> float:
        return self._keeper.deadline

    def check(self) -> None:
        self._keeper.check()

    def lock(self, name: str, ttl: float = 30, wait: float = 0, **kw: Any) -> "_Pending[AsyncLease]":
        return self._client.lock(name, ttl, wait, session=self, **kw)

    async def aclose(self) -> None:
        await self._keeper.halt(SessionLost("session closed"))
        await self._client.delete_session(self.grant.session_id)

    close = aclose


class AsyncEventStream:
    """``async for`` over lock events, reconnecting by itself; see
    Client.events. ``aclose()`` it (or leave ``async with``) to stop, also
    from another task."""

    def __init__(self, client: AsyncClient, prefix: Optional[str], last_event_id: Optional[int]) -> None:
        self._client = client
        self._prefix = prefix
        self._cursor = _core.EventCursor(last_event_id)
        self._closed = False
        self._resp: Optional[httpx.Response] = None
        self._gen = self._run()

    @property
    def last_event_id(self) -> Optional[int]:
        """The ID of the last event yielded (or where "now" was), to resume
        after."""
        return self._cursor.last_event_id

    @last_event_id.setter
    def last_event_id(self, value: Optional[int]) -> None:
        self._cursor.last_event_id = value

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        self._closed = True
        resp = self._resp
        if resp is not None:
            await resp.aclose()  # ends an iteration waiting in another task
        if not self._gen.ag_running:
            await self._gen.aclose()

    async def __aenter__(self) -> "AsyncEventStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def _run(self) -> AsyncGenerator[Event, None]:
        cur = self._cursor
        while not self._closed:
            err: Optional[Failure] = None
            try:
                index, resp = await self._client._send(_core.events(self._prefix, cur.last_event_id))
                assert resp is not None
                self._resp = resp
                cur.opened(index)
                try:
                    async for line in resp.aiter_lines():
                        ev = cur.line(line)
                        if ev is not None:
                            yield ev
                finally:
                    self._resp = None
                    await resp.aclose()
            except OctoStoreError as e:
                if self._closed:
                    return
                reset = cur.failed(e)
                if reset is not None:
                    yield reset
                err = e
            except httpx.HTTPError as e:
                err = TransportFailure(e, sent=True)
            except Exception:
                if self._closed:  # the response was closed under it
                    return
                raise
            if self._closed:
                return
            await asyncio.sleep(cur.pause(self._client.retry, err))


async def _all_pages(
    fetch: Callable[[Optional[str]], Awaitable[_core.PageT]], items: Callable[[_core.PageT], List[_core.ItemT]]
) -> List[_core.ItemT]:
    """Every item of a list, fetching page after page from ``after``."""
    out: List[_core.ItemT] = []
    after: Optional[str] = None
    while True:
        page = await fetch(after)
        out.extend(items(page))
        if page.next_after is None:
            return out
        after = page.next_after
