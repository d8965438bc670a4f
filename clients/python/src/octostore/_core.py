"""What the sync and async clients share: configuration, the requests of
every route and the parsing of their answers, the retry rules, the
keep-alive arithmetic and the event-stream parser. Only sending differs."""

from __future__ import annotations

import enum
import json
import math
import os
import random
import ssl
import stat
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, List, Mapping, Optional, Protocol, Tuple, Type, TypeVar, Union
from urllib.parse import quote, urlsplit

import httpx

from ._errors import (
    Forbidden,
    Invalid,
    LockHeld,
    NotFound,
    OctoStoreError,
    OutcomeUnknown,
    SessionExpired,
    StreamEnded,
    Unauthorized,
    Unavailable,
    from_answer,
    not_applied,
    unknown_outcome,
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

DEFAULT_URL = "http://127.0.0.1:3000"
USER_AGENT = "octostore-client-python"
#: How long an event stream may stay silent before it is reopened (the
#: server sends a heartbeat every 15 s).
STREAM_IDLE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Retry:
    """How a request that is safe to repeat is repeated: ``attempts`` in
    all, backing off exponentially from ``min`` to ``max`` seconds with full
    jitter, and never less than the server's ``Retry-After`` (up to
    ``max``). The Go client's ``DefaultRetry``."""

    attempts: int = 5
    min: float = 0.05
    max: float = 2.0


class Kind(enum.Enum):
    """When a request may be repeated."""

    WRITE = 0  #: only if never sent or not applied
    IDEMPOTENT = 1  #: also when the outcome is unknown
    READ = 2  #: on any failure to get an answer


@dataclass
class Call(Generic[T]):
    """One API request and how to read its answer. A fresh one per call:
    ``uncertain`` records that an attempt that may have been applied was
    repeated. An answer whose body says nothing more ("OK") has ``parse``
    _none: it is not decoded."""

    method: str
    path: str
    parse: Callable[[Any, Mapping[str, str]], T]
    kind: Kind = Kind.WRITE
    query: Dict[str, str] = field(default_factory=dict)
    body: Any = None
    stream: bool = False
    #: Seconds the server may legitimately take (a wait), on top of the
    #: client's timeout.
    extra_time: float = 0.0
    uncertain: bool = False
    #: A NotFound after an uncertain repeat means the thing is gone, as
    #: wanted: the call succeeds (parse gets None) instead of raising. Only
    #: for idempotent calls (release, resign).
    gone_is_done: bool = False


class TransportFailure(Exception):
    """No answer: ``sent`` says whether the request may have reached the
    server, ``refused`` that a TLS handshake failed (nothing reached it,
    and repeating would fail the same way)."""

    def __init__(self, cause: BaseException, sent: bool, refused: bool = False) -> None:
        super().__init__(str(cause) or type(cause).__name__)
        self.cause = cause
        self.sent = sent
        self.refused = refused


def transport_failure(exc: httpx.HTTPError) -> TransportFailure:
    """Classifies httpx's exception: a connection that could not be made
    (or no pooled one became free) means the request never left."""
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        cause: Optional[BaseException] = exc
        while cause is not None:
            if isinstance(cause, ssl.SSLError):
                return TransportFailure(exc, sent=False, refused=True)
            cause = cause.__cause__ or cause.__context__
        return TransportFailure(exc, sent=False)
    if isinstance(exc, (httpx.PoolTimeout, httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
        return TransportFailure(exc, sent=False, refused=isinstance(exc, httpx.UnsupportedProtocol))
    return TransportFailure(exc, sent=True)


Failure = Union[OctoStoreError, TransportFailure]


def retryable(call: Call[Any], err: Failure) -> bool:
    """Whether err allows sending call again (noting in call when an
    attempt that may have been applied is being repeated). The Go
    client's rules."""
    if isinstance(err, OctoStoreError):
        status = err.status
        if status is None:
            return False
        if not_applied(status, err.code):
            return True
        if call.kind is Kind.READ:
            return status in (503, 429)
        if call.kind is Kind.IDEMPOTENT and unknown_outcome(call.method, status, err.code):
            call.uncertain = True
            return True
        return False
    if err.refused:
        return False
    if not err.sent or call.kind is Kind.READ:
        return True
    if call.kind is Kind.IDEMPOTENT:
        call.uncertain = True
        return True
    return False


def classify(call: Call[Any], err: Failure) -> OctoStoreError:
    """The error to raise: a failure to get an answer is Unavailable, or
    OutcomeUnknown when a write may have been applied."""
    if isinstance(err, OctoStoreError):
        return err
    if (err.sent and call.kind is not Kind.READ) or call.uncertain:
        e: OctoStoreError = OutcomeUnknown(
            f"no answer, the request may or may not have been applied: {err}", method=call.method, path=call.path
        )
    else:
        e = Unavailable(f"server unavailable: {err}", method=call.method, path=call.path)
    e.__cause__ = err.cause
    return e


def backoff(retry: Retry, attempt: int, err: Optional[Failure]) -> float:
    """Exponential with full jitter, and at least the server's Retry-After
    (up to max)."""
    ceiling = min(retry.max, retry.min * (2 ** min(attempt - 1, 20)))
    d = random.uniform(0, ceiling) if ceiling > 0 else 0.0
    if isinstance(err, OctoStoreError) and err.retry_after:
        d = max(d, min(err.retry_after, retry.max))
    return d


def attempt_timeout(call: Call[Any], timeout: float, deadline: Optional[float]) -> float:
    """The timeout of the next attempt at call: the client's timeout plus
    the call's extra time, cut to what is left before deadline
    (time.monotonic). Raises Unavailable once the deadline has passed."""
    t = timeout + call.extra_time
    if deadline is not None:
        t = min(t, deadline - time.monotonic())
        if t <= 0:
            raise Unavailable("local deadline passed", method=call.method, path=call.path)
    return t


def next_pause(call: Call[Any], retry: Retry, attempt: int, err: Failure, deadline: Optional[float]) -> float:
    """How long to pause before repeating call after attempt failed with
    err, or raises the error classified when it may not be repeated: no
    attempts left, not safe to repeat, or the pause would not end before
    deadline (time.monotonic)."""
    if attempt >= retry.attempts or not retryable(call, err):
        raise classify(call, err)
    pause = backoff(retry, attempt, err)
    if deadline is not None and time.monotonic() + pause >= deadline:
        raise classify(call, err)
    return pause


def seconds(d: float) -> int:
    """d in whole seconds, rounded up."""
    return int(math.ceil(d - 1e-9)) if d > 0 else 0


def kept_ttl(ttl: Optional[float], default: float, margin: Optional[float]) -> Tuple[float, float]:
    """The TTL to keep (default when unset) in the whole seconds the server
    counts, and the safety margin for it: margin, or by default
    max(ttl/10, min(1 s, ttl/3)), as in the Go client."""
    t = float(seconds(ttl if ttl and ttl > 0 else default))
    m = margin if margin is not None and margin > 0 else max(t / 10, min(1.0, t / 3))
    if m >= t:
        raise Invalid(f"safety margin {m}s must be shorter than the TTL {t}s")
    return t, m


def renew_interval(renew_every: Optional[float], ttl: float) -> float:
    """How often a kept lease or leadership is renewed: renew_every, or
    by default ttl/3."""
    return renew_every if renew_every and renew_every > 0 else ttl / 3


def granted_late(wait: float, sent: float, every: float) -> bool:
    """Whether a waited acquire or campaign sent at sent (time.monotonic)
    was granted more than every seconds later: its keeper's deadline is
    then restarted from a fresh reading, with a renewal."""
    return wait > 0 and time.monotonic() - sent > every


def keepalive_interval(keepalive_every: Optional[float], advised: float, ttl: float, margin: float) -> float:
    """How often a kept session is kept alive: keepalive_every, else the
    server's advice; ttl/3 when that is not positive or not shorter than
    ttl - margin."""
    every = keepalive_every or advised
    if every <= 0 or every >= ttl - margin:
        every = ttl / 3
    return every


def retry_delay(failures: int, every: float) -> float:
    """A failed refresh is tried again after a backoff from 100 ms, never
    longer than every."""
    ceiling = min(every, 0.1 * (2 ** min(failures - 1, 10)))
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def definitive(err: BaseException) -> bool:
    """A refresh failure that means the lease or session is gone for sure."""
    return isinstance(err, (NotFound, LockHeld, SessionExpired, Unauthorized, Forbidden, Invalid))


class KeepState:
    """The arithmetic of keeping something with a TTL alive, shared by the
    sync and async keepers (which add the locking, the timer and the
    refreshing loop): the monotonic send time of the last confirmed
    request, the local deadline ``sent + ttl - margin``, the wait before
    the next refresh and what a failed refresh means."""

    def __init__(
        self, sent: float, ttl: float, margin: float, every: float, lost_cls: Type[Exception], what: str
    ) -> None:
        self.sent = sent
        self.ttl, self.margin, self.every = ttl, margin, every
        self.lost_cls, self.what = lost_cls, what
        self.failures = 0

    @property
    def deadline(self) -> float:
        return self.sent + self.ttl - self.margin

    @property
    def expiry(self) -> float:
        return self.sent + self.ttl

    def until_deadline(self, now: float) -> float:
        """How long from now until the local deadline (0 once past)."""
        return max(0.0, self.deadline - now)

    def late(self, now: float) -> bool:
        return now >= self.deadline

    def next_wait(self) -> float:
        """The wait before the next refresh: every, or a backoff after
        failures."""
        return retry_delay(self.failures, self.every) if self.failures else self.every

    def refreshed(self) -> None:
        """A refresh succeeded: the next one comes every seconds later."""
        self.failures = 0

    def confirmed(self, sent: float) -> bool:
        """A refresh sent at sent succeeded: whether that moves the local
        deadline on (a later confirmation may have come first)."""
        if sent <= self.sent:
            return False
        self.sent = sent
        return True

    def failed(self, err: Exception) -> Optional[Exception]:
        """A refresh failed with err: the loss to report when err is
        definitive, else None (it is tried again after a backoff)."""
        if definitive(err):
            lost = self.lost_cls(f"{self.what} lost: {err}")
            lost.__cause__ = err
            return lost
        self.failures += 1
        return None

    def expired(self) -> Exception:
        """The loss when the deadline's timer fires."""
        return self.lost_cls(f"{self.what} lost: no renewal confirmed before the local deadline")

    def past_deadline(self) -> Exception:
        """What check raises once the deadline has passed."""
        return self.lost_cls(f"{self.what} lost: past its local deadline")


# --- configuration ----------------------------------------------------


def default_token_file() -> str:
    """Where ``octostore login`` keeps the token."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "octostore", "token")


def resolve_url(url: Optional[str]) -> str:
    u = url or os.environ.get("OCTOSTORE_URL") or DEFAULT_URL
    parts = urlsplit(u)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"base URL {u!r}: want http(s)://host[:port]")
    return u.rstrip("/")


def resolve_token(token: Optional[str], token_file: Optional[str]) -> str:
    """The token as the CLI finds it: the argument, OCTOSTORE_TOKEN, the
    file (argument or OCTOSTORE_TOKEN_FILE, which must exist), else the
    file ``octostore login`` wrote, when there is one. A file others may
    read is refused."""
    tok = token or os.environ.get("OCTOSTORE_TOKEN")
    if tok:
        return tok
    path = token_file or os.environ.get("OCTOSTORE_TOKEN_FILE")
    explicit = bool(path)
    if not path:
        path = default_token_file()
    try:
        st = os.stat(path)
    except OSError:
        if explicit:
            raise
        return ""
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise Unauthorized(f"token file {path} has mode {stat.S_IMODE(st.st_mode):o}: chmod 600 it")
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def tls_context(
    ca_file: Optional[str], cert_file: Optional[str], key_file: Optional[str]
) -> Union[ssl.SSLContext, bool]:
    """The system's roots plus ca_file's certificates, and a client
    certificate (OCTOSTORE_CA_FILE, OCTOSTORE_CERT_FILE, OCTOSTORE_KEY_FILE
    when not given)."""
    ca = ca_file or os.environ.get("OCTOSTORE_CA_FILE")
    cert = cert_file or os.environ.get("OCTOSTORE_CERT_FILE")
    key = key_file or os.environ.get("OCTOSTORE_KEY_FILE")
    if not (ca or cert):
        return True
    ctx = ssl.create_default_context()
    if ca:
        ctx.load_verify_locations(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key or None)
    return ctx


def request_headers(token: str, has_body: bool) -> Dict[str, str]:
    h = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    if has_body:
        h["Content-Type"] = "application/json"
    return h


def encode_body(call: Call[Any]) -> Optional[bytes]:
    if call.body is None:
        return None
    return json.dumps(call.body, separators=(",", ":")).encode()


def decode_answer(call: Call[T], data: bytes, headers: Mapping[str, str]) -> T:
    doc: Any = None
    if call.parse is _none:
        return call.parse(None, headers)  # the answer's body says nothing more ("OK")
    if data.strip():
        try:
            doc = json.loads(data)
        except ValueError as e:
            raise OctoStoreError(f"undecodable answer: {e}", method=call.method, path=call.path) from e
    try:
        return call.parse(doc, headers)
    except (ValueError, TypeError, AttributeError) as e:
        raise OctoStoreError(f"unexpected answer: {e}", method=call.method, path=call.path) from e


def request_args(call: Call[Any], url: str, token: str, body: Optional[bytes], timeout: float) -> Dict[str, Any]:
    """The arguments of httpx's build_request for one attempt at call
    (body is encode_body(call)): a stream's reads may stay silent up to
    STREAM_IDLE_TIMEOUT."""
    read = STREAM_IDLE_TIMEOUT if call.stream else timeout
    return dict(
        method=call.method,
        url=url + call.path,
        params=call.query or None,
        content=body,
        headers=request_headers(token, body is not None),
        timeout=httpx.Timeout(timeout, read=read),
    )


def answer(call: Call[T], resp: httpx.Response, data: bytes) -> T:
    """call's value from a whole answer, or its error (a 404 after an
    uncertain repeat of a gone_is_done call is done: parse gets None)."""
    if not resp.is_success:
        err = from_answer(call.method, call.path, resp.status_code, resp.headers, data)
        if call.gone_is_done and call.uncertain and isinstance(err, NotFound):
            return call.parse(None, resp.headers)
        raise err
    return decode_answer(call, data, resp.headers)


# --- the routes -------------------------------------------------------


def lock_path(name: str, action: str = "") -> str:
    """The escaped path of a lock name, '/' kept as separator."""
    p = "/locks/" + "/".join(quote(part, safe="") for part in name.split("/"))
    return p + "/" + action if action else p


def _id_path(prefix: str, id_: str) -> str:
    return prefix + quote(id_, safe="")


def _none(doc: Any, headers: Mapping[str, str]) -> None:
    return None


def _ok(
    method: str, path: str, kind: Kind = Kind.WRITE, body: Any = None, stream: bool = False, gone_is_done: bool = False
) -> Call[None]:
    """A call whose answer's body says nothing more ("OK"): it is not
    decoded, and the value is None."""
    return Call(method, path, _none, kind=kind, body=body, stream=stream, gone_is_done=gone_is_done)


def _header_int(headers: Mapping[str, str], key: str) -> int:
    try:
        return int(headers.get(key, "0"))
    except ValueError:
        return 0


def _lock(doc: Any, headers: Mapping[str, str]) -> Lock:
    return Lock.from_json(doc)


MODES = ("exclusive", "shared")


def acquire(
    name: str,
    ttl: float,
    wait: float = 0,
    session_id: Optional[str] = None,
    metadata: Optional[str] = None,
    limit: Optional[int] = None,
    mode: Optional[str] = None,
) -> Call[Lock]:
    body: Dict[str, Any] = {"ttl_seconds": seconds(ttl)}
    if limit is not None:
        body["limit"] = limit
    if mode is not None:
        if mode not in MODES:
            raise ValueError(f"mode must be 'exclusive' or 'shared', not {mode!r}")
        body["mode"] = mode
    if session_id:
        body["session_id"] = session_id
    if metadata:
        body["metadata"] = metadata
    if wait > 0:
        body["wait_seconds"] = seconds(wait)
    return Call("POST", lock_path(name, "acquire"), _lock, body=body, extra_time=seconds(wait))


def renew(name: str, lease_id: str, ttl: float) -> Call[Lock]:
    return Call("POST", lock_path(name, "renew"), _lock, body={"lease_id": lease_id, "ttl_seconds": seconds(ttl)})


def release(name: str, lease_id: str) -> Call[None]:
    """Repeated even when the outcome is unknown (releasing twice cannot
    free anyone else's lock); a 404 after such a repeat means done."""
    return _ok("POST", lock_path(name, "release"), kind=Kind.IDEMPOTENT, body={"lease_id": lease_id}, gone_is_done=True)


def _wait_query(wait: float, index: int, stale: bool) -> Dict[str, str]:
    """The query of a status read of a lock or election: a blocking one
    with wait (until a change after index), from the node's own state with
    stale."""
    q: Dict[str, str] = {}
    if wait > 0:
        q["wait"] = f"{seconds(wait)}s"
        q["index"] = str(index)
    if stale:
        q["stale"] = "true"
    return q


def get(name: str, wait: float = 0, index: int = 0, stale: bool = False) -> Call[LockStatus]:
    return Call(
        "GET",
        lock_path(name),
        lambda doc, h: LockStatus.from_json(doc, _header_int(h, "x-octostore-index")),
        kind=Kind.READ,
        query=_wait_query(wait, index, stale),
        extra_time=seconds(wait),
    )


def _list_query(prefix: Optional[str], after: Optional[str], limit: Optional[int], stale: bool) -> Dict[str, str]:
    """The query of a page of locks or elections."""
    q: Dict[str, str] = {}
    if prefix:
        q["prefix"] = prefix
    if after:
        q["after"] = after
    if limit:
        q["limit"] = str(limit)
    if stale:
        q["stale"] = "true"
    return q


def list_locks(prefix: Optional[str], after: Optional[str], limit: Optional[int], stale: bool) -> Call[LockList]:
    q = _list_query(prefix, after, limit, stale)
    return Call("GET", "/locks", lambda doc, h: LockList.from_json(doc), kind=Kind.READ, query=q)


def create_session(ttl: Optional[float]) -> Call[SessionGrant]:
    body = {"ttl_seconds": seconds(ttl)} if ttl else {}
    return Call("POST", "/sessions", lambda doc, h: SessionGrant.from_json(doc), body=body)


def keepalive(session_id: str) -> Call[KeepAliveResult]:
    return Call("POST", _id_path("/sessions/", session_id) + "/keepalive", lambda doc, h: KeepAliveResult.from_json(doc))


def get_session(session_id: str) -> Call[SessionStatus]:
    return Call("GET", _id_path("/sessions/", session_id), lambda doc, h: SessionStatus.from_json(doc), kind=Kind.READ)


def delete_session(session_id: str) -> Call[None]:
    return _ok("DELETE", _id_path("/sessions/", session_id), kind=Kind.IDEMPOTENT)


def add_webhook(
    url: str, secret: Optional[str], events: Optional[List[str]], lock_pattern: Optional[str]
) -> Call[Webhook]:
    body: Dict[str, Any] = {"url": url}
    if secret:
        body["secret"] = secret
    if events:
        body["events"] = list(events)
    if lock_pattern:
        body["lock_pattern"] = lock_pattern
    return Call("POST", "/webhooks", lambda doc, h: Webhook.from_json(doc), body=body)


def list_webhooks() -> Call[List[Webhook]]:
    return Call("GET", "/webhooks", lambda doc, h: [Webhook.from_json(w) for w in doc or []], kind=Kind.READ)


def delete_webhook(webhook_id: str) -> Call[None]:
    return _ok("DELETE", _id_path("/webhooks/", webhook_id))


def create_token(name: str, prefixes: List[str], read_only: bool, ttl: Optional[float]) -> Call[NewToken]:
    body: Dict[str, Any] = {"name": name, "prefixes": list(prefixes), "access": "read" if read_only else "write"}
    if ttl:
        body["ttl_seconds"] = seconds(ttl)
    return Call("POST", "/auth/tokens", lambda doc, h: NewToken.from_json(doc), body=body)


def list_tokens(all_users: bool) -> Call[List[TokenInfo]]:
    return Call(
        "GET",
        "/auth/tokens",
        lambda doc, h: [TokenInfo.from_json(t) for t in (doc or {}).get("tokens") or []],
        kind=Kind.READ,
        query={"all": "true"} if all_users else {},
    )


def revoke_token(token_id: str) -> Call[None]:
    return _ok("DELETE", _id_path("/auth/tokens/", token_id))


def rotate_token() -> Call[str]:
    return Call("POST", "/auth/token/rotate", lambda doc, h: str(doc["token"]))


def list_namespaces(after: Optional[str], limit: Optional[int]) -> Call[NamespaceList]:
    q: Dict[str, str] = {}
    if after:
        q["after"] = after
    if limit:
        q["limit"] = str(limit)
    return Call("GET", "/namespaces", lambda doc, h: NamespaceList.from_json(doc), kind=Kind.READ, query=q)


def release_namespace(name: str) -> Call[None]:
    return _ok("DELETE", _id_path("/namespaces/", name))


def health() -> Call[None]:
    return _ok("GET", "/health", kind=Kind.READ)


def cluster() -> Call[ClusterStatus]:
    return Call("GET", "/cluster", lambda doc, h: ClusterStatus.from_json(doc), kind=Kind.READ)


def remove_node(node_id: str) -> Call[None]:
    return _ok("DELETE", _id_path("/cluster/nodes/", node_id))


def snapshot() -> Call[None]:
    return _ok("GET", "/cluster/snapshot", kind=Kind.READ, stream=True)


def http_limits() -> httpx.Limits:
    """Idle connections are dropped before the server's 2-minute idle
    timeout could close one under a request."""
    return httpx.Limits(keepalive_expiry=60)


def events(prefix: Optional[str], after: Optional[int]) -> Call[int]:
    """Opens the stream; its value is X-OctoStore-Index ("now")."""
    q: Dict[str, str] = {}
    if prefix:
        q["prefix"] = prefix
    if after is not None:
        q["after"] = str(after)
    return Call(
        "GET", "/events", lambda doc, h: _header_int(h, "x-octostore-index"), kind=Kind.READ, query=q, stream=True
    )


def held_by_session(st: LockStatus, session_id: Optional[str]) -> Optional[Lock]:
    """The lease of session_id that a status read shows (of a mutex, or
    one of a semaphore's or shared lock's holders), as acquire would have
    answered; None when the session holds none."""
    if not st.held or not session_id:
        return None
    for h in st.holders or []:
        if h.session_id == session_id:
            return Lock(
                status="held",
                name=st.name,
                lease_id=h.lease_id,
                fencing_token=h.fencing_token,
                expires_at=h.expires_at,
                holder=h.holder,
                session_id=h.session_id,
                metadata=h.metadata,
                limit=st.limit,
                mode=st.mode,
            )
    return lock_from_status(st) if st.session_id == session_id else None


def lock_mode(limit: Optional[int], shared: bool) -> Tuple[Optional[int], Optional[str]]:
    """The acquire's limit and mode for the lock helper's ``limit`` and
    ``shared``: a shared hold takes no limit."""
    if shared:
        if limit not in (None, 1):
            raise ValueError("a shared hold takes no limit")
        return None, "shared"
    return limit, None


# --- elections ------------------------------------------------------------


def election_path(name: str, action: str = "") -> str:
    return "/elections/" + lock_path(name, action)[len("/locks/") :]


def _election(doc: Any, headers: Mapping[str, str]) -> Election:
    return Election.from_json(doc, _header_int(headers, "x-octostore-index"))


def campaign(name: str, ttl: float, wait: float, session_id: Optional[str], value: Optional[str]) -> Call[Election]:
    body: Dict[str, Any] = {"ttl_seconds": seconds(ttl)}
    if session_id:
        body["session_id"] = session_id
    if value:
        body["value"] = value
    if wait > 0:
        body["wait_seconds"] = seconds(wait)
    return Call("POST", election_path(name, "campaign"), _election, body=body, extra_time=seconds(wait))


def proclaim(name: str, lease_id: str, value: str) -> Call[Election]:
    return Call("POST", election_path(name, "proclaim"), _election, body={"lease_id": lease_id, "value": value})


def resign(name: str, lease_id: str) -> Call[None]:
    """Retried as release is (a 404 after a repeat means done)."""
    return _ok("POST", election_path(name, "resign"), kind=Kind.IDEMPOTENT, body={"lease_id": lease_id}, gone_is_done=True)


def get_election(name: str, wait: float = 0, index: int = 0, stale: bool = False) -> Call[Election]:
    q = _wait_query(wait, index, stale)
    return Call("GET", election_path(name), _election, kind=Kind.READ, query=q, extra_time=seconds(wait))


def list_elections(
    prefix: Optional[str], after: Optional[str], limit: Optional[int], stale: bool
) -> Call[ElectionList]:
    q = _list_query(prefix, after, limit, stale)
    return Call("GET", "/elections", lambda doc, h: ElectionList.from_json(doc), kind=Kind.READ, query=q)


class Page(Protocol):
    """A page of a list (LockList, ElectionList): what paging needs."""

    @property
    def next_after(self) -> Optional[str]: ...


PageT = TypeVar("PageT", bound=Page)
ItemT = TypeVar("ItemT")


def lock_items(page: LockList) -> List[ListedLock]:
    """A page of locks' items, for paging through them."""
    return page.locks


def election_items(page: ElectionList) -> List[Election]:
    """A page of elections' items, for paging through them."""
    return page.elections


def namespace_items(page: NamespaceList) -> List[Namespace]:
    """A page of namespaces' items, for paging through them."""
    return page.namespaces


def election_changed(last: Optional[Election], st: Election) -> bool:
    """Whether an observer reports st after last: another leader, term
    (lease) or value, or a vacancy (a lease extended is no change)."""
    return last is None or (last.elected, last.lease_id, last.value) != (st.elected, st.lease_id, st.value)


def term_lapsed(held: Election, st: Election) -> Optional[NotFound]:
    """A kept leadership's re-campaign answered st: None when it is the
    same lease extended; else the leadership lapsed and st began a new
    term, which is not the one held (the caller resigns it)."""
    if st.lease_id == held.lease_id:
        return None
    return NotFound(f"the leadership of term {held.term} lapsed (term {st.term} began)", code="lock_not_found")


def lock_from_status(st: LockStatus) -> Lock:
    """The lease a status read shows, as acquire would have answered."""
    assert st.lease_id is not None and st.expires_at is not None
    return Lock(
        status="held",
        name=st.name,
        lease_id=st.lease_id,
        fencing_token=st.fencing_token or 0,
        expires_at=st.expires_at,
        holder=st.holder or "",
        session_id=st.session_id,
        metadata=st.metadata,
        limit=st.limit,
        mode=st.mode,
    )


# --- Server-Sent Events -------------------------------------------------


class SSEParser:
    """Turns the stream's lines into events, skipping heartbeats."""

    def __init__(self) -> None:
        self._fields: Dict[str, str] = {}

    def feed(self, line: str) -> Optional[Event]:
        """The event a blank line completes, if any. Raises StreamEnded for
        the server's error event."""
        line = line.rstrip("\r\n")
        if line:
            if not line.startswith(":"):
                k, _, v = line.partition(":")
                self._fields[k] = v[1:] if v.startswith(" ") else v
            return None
        fields, self._fields = self._fields, {}
        data = fields.get("data", "")
        if not data:
            return None
        try:
            doc = json.loads(data)
        except ValueError as e:
            raise OctoStoreError(f"undecodable event {data!r}: {e}") from e
        typ = fields.get("event", "message")
        if typ == "error":
            reason = doc.get("reason", "") if isinstance(doc, dict) else ""
            raise StreamEnded(f"event stream ended by the server: {reason}")
        try:
            id_: Optional[int] = int(fields["id"])
        except (KeyError, ValueError):
            id_ = None
        return Event.from_json(typ, id_, doc if isinstance(doc, dict) else {})


def stream_fatal(err: BaseException) -> bool:
    """An error no reconnect (of an event stream) or repeated read (of an
    election observer) can fix."""
    return isinstance(err, (Unauthorized, Forbidden, Invalid))


class EventCursor:
    """An event stream's place across reopenings, shared by EventStream
    and AsyncEventStream: the ID of the last event yielded (or where "now"
    was) to resume after, the parser of the open response, and the
    number of the attempt to open it (for the backoff)."""

    def __init__(self, last_event_id: Optional[int]) -> None:
        self.last_event_id = last_event_id
        self.attempt = 1
        self._parser = SSEParser()

    def opened(self, index: int) -> None:
        """The stream opened, "now" being index: a fresh parser, and
        attempts count from 1 again."""
        self.attempt = 1
        if self.last_event_id is None:
            self.last_event_id = index
        self._parser = SSEParser()

    def line(self, line: str) -> Optional[Event]:
        """The event line completes, if any (remembering its ID)."""
        ev = self._parser.feed(line)
        if ev is not None and ev.id is not None:
            self.last_event_id = ev.id
        return ev

    def failed(self, err: OctoStoreError) -> Optional[Event]:
        """Raises err when no reconnect can fix it; for StreamEnded the
        reset event to yield (too far behind: resuming would be cut off
        again, so go on from now and say what was missed)."""
        if stream_fatal(err):
            raise err
        if isinstance(err, StreamEnded):
            self.last_event_id = None
            return Event(type="reset", reason=str(err))
        return None

    def pause(self, retry: Retry, err: Optional[Failure]) -> float:
        """The backoff before the next attempt to reopen."""
        d = backoff(retry, self.attempt, err)
        self.attempt += 1
        return d
