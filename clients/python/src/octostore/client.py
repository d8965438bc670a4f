"""The synchronous client."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, BinaryIO, Callable, Generator, Iterator, List, Optional, Tuple, Type, TypeVar, Union

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


class Client:
    """A client of one OctoStore server (any node of a cluster) as the owner
    of one bearer token. Safe to share between threads.

    ``url`` defaults to ``OCTOSTORE_URL`` (else ``http://127.0.0.1:3000``);
    ``token`` to ``OCTOSTORE_TOKEN``, then the file ``token_file`` or
    ``OCTOSTORE_TOKEN_FILE``, then the file ``octostore login`` wrote, as
    the CLI reads them. ``ca_file`` (``OCTOSTORE_CA_FILE``) adds CAs to the
    system's roots for https URLs; ``cert_file``/``key_file`` present a
    client certificate. ``timeout`` bounds each request (waits get their
    wait on top).
    """

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
        transport: Optional[httpx.BaseTransport] = None,
    ) -> None:
        self.url = _core.resolve_url(url)
        self.token = _core.resolve_token(token, token_file)
        self.timeout = timeout
        self.retry = retry if retry.attempts >= 1 else Retry(1, retry.min, retry.max)
        verify = _core.tls_context(ca_file, cert_file, key_file)
        self._http = httpx.Client(verify=verify, transport=transport, timeout=timeout, limits=_core.http_limits())

    def close(self) -> None:
        """Closes the connections."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- sending ---

    def _do(self, call: Call[T], deadline: Optional[float] = None) -> T:
        """Sends call, repeating it while that is safe, and raises the final
        error classified. deadline (time.monotonic) bounds every attempt
        and backoff."""
        return self._send(call, deadline)[0]

    def _send(self, call: Call[T], deadline: Optional[float] = None) -> Tuple[T, Optional[httpx.Response]]:
        """_do, also returning a stream call's open response."""
        body = _core.encode_body(call)
        attempt = 1
        while True:
            timeout = _core.attempt_timeout(call, self.timeout, deadline)
            try:
                return self._once(call, body, timeout)
            except (OctoStoreError, TransportFailure) as e:
                err: Failure = e
            time.sleep(_core.next_pause(call, self.retry, attempt, err, deadline))
            attempt += 1

    def _once(self, call: Call[T], body: Optional[bytes], timeout: float) -> Tuple[T, Optional[httpx.Response]]:
        req = self._http.build_request(**_core.request_args(call, self.url, self.token, body, timeout))
        try:
            resp = self._http.send(req, stream=True)
        except httpx.HTTPError as e:
            raise _core.transport_failure(e) from e
        if call.stream and resp.is_success:
            return _core.decode_answer(call, b"", resp.headers), resp
        try:
            data = resp.read()
        except httpx.HTTPError as e:
            raise TransportFailure(e, sent=True) from e
        finally:
            resp.close()
        return _core.answer(call, resp, data), None

    # --- locks ---

    def acquire(
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
        """Takes the lock ``name`` for ``ttl`` seconds (whole, 1 to 3600).
        With ``wait`` (up to 300 s) the request waits its turn in the
        lock's FIFO queue. Raises LockHeld (with ``holder`` and
        ``expires_at``) when someone else holds it, OutcomeUnknown when the
        answer was lost (never repeated: the lock may be the caller's)."""
        return self._do(_core.acquire(name, ttl, wait, session_id, metadata, limit, mode))

    def renew(self, name: str, lease_id: str, ttl: float = 30) -> Lock:
        """Extends the lease to ``ttl`` seconds from now; a lease that is
        gone raises NotFound."""
        return self._do(_core.renew(name, lease_id, ttl))

    def release(self, name: str, lease_id: str) -> None:
        """Frees the lock held with ``lease_id``. Repeated even when the
        outcome is unknown (releasing twice cannot free anyone else's
        lock); a 404 after such a repeat means done. A first-attempt 404
        raises NotFound."""
        self._do(_core.release(name, lease_id))

    def get(self, name: str, *, wait: float = 0, index: int = 0, stale: bool = False) -> LockStatus:
        """Reads a lock's status (not held is not an error). With ``wait``
        and ``index`` it blocks until the lock changes after ``index``."""
        return self._do(_core.get(name, wait, index, stale))

    def list(
        self, prefix: Optional[str] = None, *, after: Optional[str] = None, limit: Optional[int] = None, stale: bool = False
    ) -> LockList:
        """One page of held locks in name order."""
        return self._do(_core.list_locks(prefix, after, limit, stale))

    def list_all(self, prefix: Optional[str] = None) -> List[ListedLock]:
        """Every held lock under ``prefix``, through all pages."""
        return _all_pages(lambda after: self.list(prefix, after=after), _core.lock_items)

    # --- sessions ---

    def create_session(self, ttl: Optional[float] = None) -> SessionGrant:
        """Starts a session (10 to 300 s, server default 60 s)."""
        return self._do(_core.create_session(ttl))

    def keepalive(self, session_id: str) -> KeepAliveResult:
        """Extends the session by its TTL; an ended one raises SessionExpired."""
        return self._do(_core.keepalive(session_id))

    def get_session(self, session_id: str) -> SessionStatus:
        return self._do(_core.get_session(session_id))

    def delete_session(self, session_id: str) -> None:
        """Ends the session, releasing its locks (idempotent)."""
        self._do(_core.delete_session(session_id))

    # --- webhooks, tokens, cluster ---

    def add_webhook(
        self,
        url: str,
        *,
        secret: Optional[str] = None,
        events: Optional[List[str]] = None,
        lock_pattern: Optional[str] = None,
    ) -> Webhook:
        return self._do(_core.add_webhook(url, secret, events, lock_pattern))

    def list_webhooks(self) -> List[Webhook]:
        return self._do(_core.list_webhooks())

    def delete_webhook(self, webhook_id: str) -> None:
        self._do(_core.delete_webhook(webhook_id))

    def create_token(
        self, name: str, prefixes: List[str], *, read_only: bool = False, ttl: Optional[float] = None
    ) -> NewToken:
        """Issues a token limited to ``prefixes`` (write access, or read with
        ``read_only``), expiring after ``ttl`` seconds (never without).
        Not repeated once sent: a repeat would create a second token."""
        return self._do(_core.create_token(name, prefixes, read_only, ttl))

    def list_tokens(self, all_users: bool = False) -> List[TokenInfo]:
        return self._do(_core.list_tokens(all_users))

    def revoke_token(self, token_id: str) -> None:
        self._do(_core.revoke_token(token_id))

    def rotate_token(self) -> str:
        """Replaces this client's token with a new one, used from then on and
        returned (shown only this once)."""
        self.token = self._do(_core.rotate_token())
        return self.token

    # --- namespaces (administrators) ---

    def list_namespaces(self, after: Optional[str] = None, limit: Optional[int] = None) -> NamespaceList:
        """One page of the owner namespaces bound to accounts (under
        ``--tenancy isolated``), in name order: those sorting after
        ``after``, at most ``limit`` (server default 1000); ``next_after``
        is set when more follow. Administrators only, else Forbidden."""
        return self._do(_core.list_namespaces(after, limit))

    def list_all_namespaces(self) -> List[Namespace]:
        """Every bound namespace, through all pages."""
        return _all_pages(lambda after: self.list_namespaces(after), _core.namespace_items)

    def release_namespace(self, name: str) -> None:
        """Frees a namespace's binding, so the next account to use it binds
        it anew (after a GitHub login changed hands); locks under it are not
        touched. Administrators only, else Forbidden; a namespace that is
        not bound raises NotFound (``namespace_not_found``). Not repeated
        once sent."""
        self._do(_core.release_namespace(name))

    # --- system ---

    def health(self) -> None:
        self._do(_core.health())

    def cluster(self) -> ClusterStatus:
        return self._do(_core.cluster())

    def remove_node(self, node_id: str) -> None:
        """Takes a (dead) member out of the cluster; administrators only."""
        self._do(_core.remove_node(node_id))

    def snapshot(self, out: BinaryIO) -> int:
        """Writes a consistent backup of the whole state to out and returns
        its size; administrators only. It holds token hashes and webhook
        secrets: keep it private. A copy cut off midway raises Unavailable
        (discard what was written)."""
        _, resp = self._send(_core.snapshot())
        assert resp is not None
        n = 0
        try:
            for chunk in resp.iter_bytes():
                out.write(chunk)
                n += len(chunk)
        except httpx.HTTPError as e:
            raise Unavailable(f"snapshot cut off after {n} bytes: {e}", method="GET", path="/cluster/snapshot") from e
        finally:
            resp.close()
        return n

    # --- elections ---

    def campaign(
        self,
        name: str,
        ttl: float = 30,
        *,
        value: Optional[str] = None,
        wait: float = 0,
        session_id: Optional[str] = None,
    ) -> Election:
        """Asks once to lead election ``name`` (waiting up to ``wait`` s in
        FIFO order). Another leader raises LockHeld (``holder`` is the
        leader). The leader campaigning again (same user and session)
        extends its lease and gets the same lease back: that is how a
        leader renews; without ``value`` it keeps its value."""
        return self._do(_core.campaign(name, ttl, wait, session_id, value))

    def proclaim(self, name: str, lease_id: str, value: str) -> Election:
        """Replaces the value of the leader whose lease is ``lease_id``
        (empty clears it). Any other lease raises NotFound."""
        return self._do(_core.proclaim(name, lease_id, value))

    def resign(self, name: str, lease_id: str) -> None:
        """Gives up the leadership held with ``lease_id``: the first
        campaigner waiting becomes leader at once. Retried as release is
        (a 404 after a repeat means done)."""
        self._do(_core.resign(name, lease_id))

    def get_election(self, name: str, *, wait: float = 0, index: int = 0, stale: bool = False) -> Election:
        """Reads an election's leadership (vacant is not an error:
        ``elected`` False). With ``wait`` and ``index`` it blocks until the
        leadership changes after ``index``."""
        return self._do(_core.get_election(name, wait, index, stale))

    def list_elections(
        self, prefix: Optional[str] = None, *, after: Optional[str] = None, limit: Optional[int] = None, stale: bool = False
    ) -> ElectionList:
        """One page of the elections that have a leader, in name order,
        selected as ``list`` selects locks; ``next_after`` is set when more
        follow."""
        return self._do(_core.list_elections(prefix, after, limit, stale))

    def list_all_elections(self, prefix: Optional[str] = None) -> List[Election]:
        """Every election with a leader under ``prefix``, through all pages."""
        return _all_pages(lambda after: self.list_elections(prefix, after=after), _core.election_items)

    def observe_election(self, name: str, *, wait: float = 60) -> Iterator[Election]:
        """Yields the election's leadership now, then every change of
        leader, term or value (a vacancy included), following it with
        blocking reads (``X-OctoStore-Index``) of up to ``wait`` s. A failed
        read is repeated with backoff; it raises only errors no retry can
        fix (Unauthorized, Forbidden, Invalid). Changes that come and go
        between two reads may be missed; the last one never is."""
        last: Optional[Election] = None
        index, failures = 0, 0
        while True:
            try:
                st = self.get_election(name, wait=wait if last is not None else 0, index=index)
            except OctoStoreError as e:
                if _core.stream_fatal(e):
                    raise
                failures += 1
                time.sleep(_core.backoff(self.retry, failures, e))
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
        session: "Union[Session, str, None]" = None,
        metadata: Optional[str] = None,
        limit: Optional[int] = None,
        shared: bool = False,
        safety_margin: Optional[float] = None,
        renew_every: Optional[float] = None,
    ) -> "Lease":
        """Acquires ``name`` (waiting up to ``wait`` s) and keeps it renewed
        in a background thread until released; use it as ``with
        client.lock(...) as lease:``, which releases on exit, exceptions
        included. See Lease for the safety rules.

        ``limit=N`` holds one of the N slots of a semaphore (every holder
        must ask with the same N, else LimitMismatch); ``shared=True``
        holds a read/write lock as a reader (any number together, never
        with a writer, who holds it without ``shared``)."""
        ttl, margin = _core.kept_ttl(ttl, 30, safety_margin)
        limit, mode = _core.lock_mode(limit, shared)
        every = _core.renew_interval(renew_every, ttl)
        session_id = session.session_id if isinstance(session, Session) else session
        sent = time.monotonic()
        lk = self._acquire_checked(name, ttl, wait, session_id, metadata, limit, mode)
        if _core.granted_late(wait, sent, every):
            # Granted long after it was sent: restart the deadline from a
            # fresh reading.
            sent = time.monotonic()
            try:
                self.renew(name, lk.lease_id, ttl)
            except BaseException:
                try:
                    self.release(name, lk.lease_id)
                except OctoStoreError:
                    pass
                raise
        return Lease(self, lk, sent, ttl, margin, every)

    def _acquire_checked(
        self,
        name: str,
        ttl: float,
        wait: float,
        session_id: Optional[str],
        metadata: Optional[str],
        limit: Optional[int],
        mode: Optional[str],
    ) -> Lock:
        """acquire, resolving an unknown outcome with a status read instead
        of repeating it blindly: a lock held by this session is adopted;
        one held by someone is asked for again as a try-lock (the same
        holder gets "held" with its lease, anyone else is LockHeld); a free
        one is asked for again with what is left of the wait."""
        start = time.monotonic()
        try:
            return self.acquire(name, ttl, wait=wait, session_id=session_id, metadata=metadata, limit=limit, mode=mode)
        except OutcomeUnknown:
            st = self.get(name)
        mine = _core.held_by_session(st, session_id)
        if mine is not None:
            return mine
        left = 0.0 if st.held else max(0.0, wait - (time.monotonic() - start))
        return self.acquire(name, ttl, wait=left, session_id=session_id, metadata=metadata, limit=limit, mode=mode)

    def lead(
        self,
        name: str,
        ttl: float = 30,
        wait: float = 0,
        *,
        value: Optional[str] = None,
        session: "Union[Session, str, None]" = None,
        safety_margin: Optional[float] = None,
        renew_every: Optional[float] = None,
    ) -> "Leadership":
        """Campaigns for election ``name`` (waiting up to ``wait`` s) and
        keeps the leadership renewed in a background thread, by campaigning
        again, until resigned: ``with client.lead(...) as leader:`` resigns
        on exit. ``lost``/``check()`` as for a Lease (LeadershipLost)."""
        ttl, margin = _core.kept_ttl(ttl, 30, safety_margin)
        every = _core.renew_interval(renew_every, ttl)
        session_id = session.session_id if isinstance(session, Session) else session
        sent = time.monotonic()
        st = self.campaign(name, ttl, value=value, wait=wait, session_id=session_id)
        if _core.granted_late(wait, sent, every):
            sent = time.monotonic()
            try:
                self.campaign(name, ttl, session_id=session_id)
            except BaseException:
                try:
                    self.resign(name, st.lease_id)
                except OctoStoreError:
                    pass
                raise
        return Leadership(self, st, session_id, sent, ttl, margin, every)

    def session(
        self, ttl: float = 60, *, keepalive_every: Optional[float] = None, safety_margin: Optional[float] = None
    ) -> "Session":
        """Creates a session and keeps it alive in a background thread until
        closed (``with client.session(ttl=30) as s:`` deletes it on exit,
        releasing its locks)."""
        ttl, margin = _core.kept_ttl(ttl, 60, safety_margin)
        sent = time.monotonic()
        grant = self.create_session(ttl)
        every = _core.keepalive_interval(keepalive_every, float(grant.keepalive_interval_secs), ttl, margin)
        return Session(self, grant, sent, ttl, margin, every)

    def events(self, prefix: Optional[str] = None, last_event_id: Optional[int] = None) -> "EventStream":
        """The lock events under ``prefix``, from now or after
        ``last_event_id``, as an iterator that reopens the stream by itself
        when it breaks (network, server restart), resuming after the last
        event it yielded: nothing is missed or repeated while the server
        still keeps the events; otherwise a ``reset`` event says to re-read
        the state. Raises Unauthorized, Forbidden or Invalid, which no
        retry fixes. ``close()`` it, or use it in a ``with``."""
        return EventStream(self, prefix, last_event_id)


class _Keeper:
    """Keeps something with a TTL alive by calling refresh every ``every``
    seconds in a daemon thread, and sets ``lost`` the moment it can no
    longer prove it alive: a refresh failed definitively, or the local
    deadline (the monotonic send time of the last confirmed request + ttl
    - margin) passed."""

    def __init__(
        self,
        sent: float,
        ttl: float,
        margin: float,
        every: float,
        refresh: Callable[[float], Any],
        lost_cls: Type[Exception],
        what: str,
    ) -> None:
        self.state = _core.KeepState(sent, ttl, margin, every, lost_cls, what)
        self._refresh = refresh
        self.lost = threading.Event()
        self.reason: Optional[Exception] = None
        self._mu = threading.Lock()
        self._stop = threading.Event()
        self._timer = self._start_timer()
        self._thread = threading.Thread(target=self._run, name=f"octostore-{what}-keeper", daemon=True)
        self._thread.start()

    @property
    def deadline(self) -> float:
        with self._mu:
            return self.state.deadline

    @property
    def expiry(self) -> float:
        with self._mu:
            return self.state.expiry

    def _start_timer(self) -> threading.Timer:
        t = threading.Timer(self.state.until_deadline(time.monotonic()), self._expired)
        t.daemon = True
        t.start()
        return t

    def _expired(self) -> None:
        self._lose(self.state.expired())

    def _run(self) -> None:
        st = self.state  # failures and next_wait are this thread's alone
        while not self._stop.wait(st.next_wait()) and not self.lost.is_set():
            sent = time.monotonic()
            try:
                self._refresh(self.deadline)
            except Exception as e:  # anything but a refusal may pass: try again
                lost = st.failed(e)
                if lost is not None:
                    self._lose(lost)
                    return
            else:
                self._confirm(sent)
                st.refreshed()

    def _confirm(self, sent: float) -> None:
        with self._mu:
            if self.lost.is_set() or not self.state.confirmed(sent):
                return
            self._timer.cancel()
            self._timer = self._start_timer()

    def _lose(self, reason: Exception) -> None:
        with self._mu:
            if self.lost.is_set():
                return
            self.reason = reason
            self._timer.cancel()
            self.lost.set()

    def check(self) -> None:
        with self._mu:
            reason = self.reason
            late = self.state.late(time.monotonic())
        if reason is not None:
            raise reason
        if late:
            self._expired()
            raise self.state.past_deadline()

    def halt(self, reason: Exception, join: float) -> None:
        """Stops refreshing and marks the thing gone, unless it was lost
        already; waits for a refresh in flight up to join seconds."""
        self._stop.set()
        self._lose(reason)
        if threading.current_thread() is not self._thread:
            self._thread.join(join)


class Lease:
    """A held lock that renews itself every ttl/3 until released.

    ``lost`` (a threading.Event) is set the moment the lease can no longer
    be proven held: a renewal was refused (404, 409, 401, 403, 410, 422),
    or no renewal was confirmed before the local deadline, ``sent + ttl -
    margin`` on the monotonic clock, where ``sent`` was read before the
    confirming request was sent (so it always comes before the server's
    expiry) and margin is max(ttl/10, min(1 s, ttl/3)) unless given. It is
    also set by ``release()``. ``check()`` raises LeaseLost then; call it
    before every protected step, and send ``fencing_token`` with every
    write to the protected resource.
    """

    def __init__(self, client: Client, lock: Lock, sent: float, ttl: float, margin: float, every: float) -> None:
        self._client = client
        self.lock = lock
        self._keeper = _Keeper(sent, ttl, margin, every, self._renew, LeaseLost, "lease")

    def _renew(self, deadline: float) -> None:
        self._client._do(_core.renew(self.lock.name, self.lock.lease_id, self._keeper.state.ttl), deadline)

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
    def lost(self) -> threading.Event:
        return self._keeper.lost

    @property
    def reason(self) -> Optional[Exception]:
        """Why the lease is no longer held, once ``lost`` is set."""
        return self._keeper.reason

    @property
    def deadline(self) -> float:
        """The local deadline (time.monotonic)."""
        return self._keeper.deadline

    @property
    def expiry(self) -> float:
        """The earliest moment (time.monotonic) the server may consider the
        lease expired: the last confirmed send time + ttl."""
        return self._keeper.expiry

    def check(self) -> None:
        """Raises LeaseLost if the lease is lost or its local deadline has
        passed."""
        self._keeper.check()

    def release(self) -> None:
        """Stops renewing and releases the lock. A lease already lost is not
        an error."""
        self._keeper.halt(LeaseLost("lease released"), self._client.timeout)
        try:
            self._client.release(self.lock.name, self.lock.lease_id)
        except NotFound:
            pass

    def __enter__(self) -> "Lease":
        return self

    def __exit__(
        self, typ: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        try:
            self.release()
        except OctoStoreError:
            if exc is None:
                raise


class Leadership:
    """An election's leadership kept by this client (Client.lead): renewed
    by campaigning again every ttl/3, which extends the same lease. ``lost``
    is set, and ``check()`` raises LeadershipLost, the moment it can no
    longer be proven held, as for a Lease; send ``term`` with every write
    only the leader may make."""

    def __init__(
        self, client: Client, status: Election, session_id: Optional[str], sent: float, ttl: float, margin: float, every: float
    ) -> None:
        self._client = client
        self.status = status
        self._session_id = session_id
        self._keeper = _Keeper(sent, ttl, margin, every, self._renew, LeadershipLost, "leadership")

    def _renew(self, deadline: float) -> None:
        name, ttl = self.status.name, self._keeper.state.ttl
        st = self._client._do(_core.campaign(name, ttl, 0, self._session_id, None), deadline)
        lapsed = _core.term_lapsed(self.status, st)
        if lapsed is not None:
            try:
                self._client.resign(name, st.lease_id)
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
    def lost(self) -> threading.Event:
        return self._keeper.lost

    @property
    def reason(self) -> Optional[Exception]:
        return self._keeper.reason

    def check(self) -> None:
        """Raises LeadershipLost if the leadership is lost or its local
        deadline has passed."""
        self._keeper.check()

    def proclaim(self, value: str) -> Election:
        """Replaces the leader's value (a lost leadership: NotFound)."""
        self.status = self._client.proclaim(self.status.name, self.status.lease_id, value)
        return self.status

    def resign(self) -> None:
        """Stops renewing and gives the leadership up; one already lost is
        not an error."""
        self._keeper.halt(LeadershipLost("leadership resigned"), self._client.timeout)
        try:
            self._client.resign(self.status.name, self.status.lease_id)
        except NotFound:
            pass

    def __enter__(self) -> "Leadership":
        return self

    def __exit__(
        self, typ: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        try:
            self.resign()
        except OctoStoreError:
            if exc is None:
                raise


class Session:
    """A session kept alive in a background thread until closed; ``lost``
    and ``check()`` work as for a Lease (SessionLost)."""

    def __init__(
        self, client: Client, grant: SessionGrant, sent: float, ttl: float, margin: float, every: float
    ) -> None:
        self._client = client
        self.grant = grant
        self._keeper = _Keeper(sent, ttl, margin, every, self._keepalive, SessionLost, "session")

    def _keepalive(self, deadline: float) -> None:
        self._client._do(_core.keepalive(self.grant.session_id), deadline)

    @property
    def session_id(self) -> str:
        return self.grant.session_id

    @property
    def lost(self) -> threading.Event:
        return self._keeper.lost

    @property
    def deadline(self) -> float:
        return self._keeper.deadline

    def check(self) -> None:
        self._keeper.check()

    def lock(self, name: str, ttl: float = 30, wait: float = 0, **kw: Any) -> Lease:
        """Holds a lock through this session (released when it ends too)."""
        return self._client.lock(name, ttl, wait, session=self, **kw)

    def close(self) -> None:
        """Stops the keepalives and deletes the session, releasing its locks."""
        self._keeper.halt(SessionLost("session closed"), self._client.timeout)
        self._client.delete_session(self.grant.session_id)

    def __enter__(self) -> "Session":
        return self

    def __exit__(
        self, typ: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        try:
            self.close()
        except OctoStoreError:
            if exc is None:
                raise


class EventStream:
    """An iterator of lock events that reconnects by itself; see
    Client.events."""

    def __init__(self, client: Client, prefix: Optional[str], last_event_id: Optional[int]) -> None:
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

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        return next(self._gen)

    def close(self) -> None:
        self._closed = True
        resp = self._resp
        if resp is not None:
            resp.close()  # ends an iteration blocked in another thread
        if not self._gen.gi_running:
            self._gen.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self) -> Generator[Event, None, None]:
        cur = self._cursor
        while not self._closed:
            err: Optional[Failure] = None
            try:
                index, resp = self._client._send(_core.events(self._prefix, cur.last_event_id))
                assert resp is not None
                self._resp = resp
                cur.opened(index)
                try:
                    for line in resp.iter_lines():
                        ev = cur.line(line)
                        if ev is not None:
                            yield ev
                finally:
                    resp.close()
                    self._resp = None
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
            time.sleep(cur.pause(self._client.retry, err))


def _all_pages(fetch: Callable[[Optional[str]], _core.PageT], items: Callable[[_core.PageT], List[_core.ItemT]]) -> List[_core.ItemT]:
    """Every item of a list, fetching page after page from ``after``."""
    out: List[_core.ItemT] = []
    after: Optional[str] = None
    while True:
        page = fetch(after)
        out.extend(items(page))
        if page.next_after is None:
            return out
        after = page.next_after
