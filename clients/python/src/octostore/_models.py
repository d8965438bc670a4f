"""Typed results: the server's JSON answers as dataclasses."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_time(value: Any) -> Optional[_dt.datetime]:
    """An RFC 3339 time (nanoseconds allowed) as an aware datetime."""
    if not isinstance(value, str):
        return None
    m = _TIME.match(value)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz = _dt.timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = _dt.timezone(sign * _dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return _dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=tz)


def _time(doc: Mapping[str, Any], key: str) -> _dt.datetime:
    t = parse_time(doc.get(key))
    if t is None:
        raise ValueError(f"answer without a valid {key!r}: {doc.get(key)!r}")
    return t


def _opt_str(doc: Mapping[str, Any], key: str) -> Optional[str]:
    v = doc.get(key)
    return v if isinstance(v, str) else None


def _int(doc: Mapping[str, Any], key: str, default: int = 0) -> int:
    v = doc.get(key)
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default


@dataclass(frozen=True)
class LockHolder:
    """One holder of a semaphore or of a read/write lock held shared."""

    lease_id: str
    fencing_token: int
    holder: str
    expires_at: _dt.datetime
    session_id: Optional[str] = None
    metadata: Optional[str] = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "LockHolder":
        return cls(
            lease_id=str(doc.get("lease_id", "")),
            fencing_token=_int(doc, "fencing_token"),
            holder=str(doc.get("holder", "")),
            expires_at=_time(doc, "expires_at"),
            session_id=_opt_str(doc, "session_id"),
            metadata=_opt_str(doc, "metadata"),
        )


def _opt_int(doc: Mapping[str, Any], key: str) -> Optional[int]:
    v = doc.get(key)
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _holders(doc: Mapping[str, Any]) -> Optional[List[LockHolder]]:
    v = doc.get("holders")
    return [LockHolder.from_json(x) for x in v if isinstance(x, dict)] if isinstance(v, list) else None


@dataclass(frozen=True)
class Lock:
    """A held lock as its holder sees it (the answer of acquire and renew)."""

    status: str  #: "acquired" (a new grant) or "held" (already the caller's)
    name: str
    lease_id: str
    fencing_token: int
    expires_at: _dt.datetime  #: the server's expiry of the lease
    holder: str
    session_id: Optional[str] = None
    metadata: Optional[str] = None
    #: Semaphores and read/write locks only (None for a mutex): the name's
    #: slots (1 for a read/write lock) and this lease's mode.
    limit: Optional[int] = None
    mode: Optional[str] = None  #: "exclusive" or "shared"

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "Lock":
        return cls(
            status=str(doc.get("status", "")),
            name=str(doc.get("name", "")),
            lease_id=str(doc.get("lease_id", "")),
            fencing_token=_int(doc, "fencing_token"),
            expires_at=_time(doc, "expires_at"),
            holder=str(doc.get("holder", "")),
            session_id=_opt_str(doc, "session_id"),
            metadata=_opt_str(doc, "metadata"),
            limit=_opt_int(doc, "limit"),
            mode=_opt_str(doc, "mode"),
        )


@dataclass(frozen=True)
class LockStatus:
    """What ``GET /locks/{name}`` says. A lock nobody holds is not an error:
    ``held`` is False and the holder's fields are None."""

    name: str
    status: str  #: "held" or "available"
    held: bool
    lease_id: Optional[str] = None
    fencing_token: Optional[int] = None
    expires_at: Optional[_dt.datetime] = None
    holder: Optional[str] = None
    session_id: Optional[str] = None
    metadata: Optional[str] = None
    waiters: int = 0  #: acquires queued behind the holder
    index: int = 0  #: X-OctoStore-Index: pass it to a blocking get, or as last_event_id
    #: Semaphores and read/write locks held shared only (None for a
    #: mutex): the slots, the holders' mode and every holder in grant order
    #: (the top-level lease fields are the first one's).
    limit: Optional[int] = None
    mode: Optional[str] = None
    holders: Optional[List[LockHolder]] = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], index: int) -> "LockStatus":
        held = doc.get("status") == "held"
        return cls(
            name=str(doc.get("name", "")),
            status=str(doc.get("status", "")),
            held=held,
            lease_id=_opt_str(doc, "lease_id"),
            fencing_token=_int(doc, "fencing_token") if held else None,
            expires_at=parse_time(doc.get("expires_at")),
            holder=_opt_str(doc, "holder"),
            session_id=_opt_str(doc, "session_id"),
            metadata=_opt_str(doc, "metadata"),
            waiters=_int(doc, "waiters"),
            index=index,
            limit=_opt_int(doc, "limit"),
            mode=_opt_str(doc, "mode"),
            holders=_holders(doc),
        )


@dataclass(frozen=True)
class Election:
    """An election's leadership: a campaign's or proclaim's answer, or a
    read's (``elected`` False: vacant, the leader's fields empty)."""

    name: str
    status: str  #: "leader", or "vacant" on a read of an election nobody leads
    elected: bool
    leader: str = ""  #: the leader's login
    lease_id: str = ""  #: the leader's lease, for proclaim and resign
    term: int = 0  #: the leader's fencing token: strictly increasing across terms
    value: str = ""  #: the leader's value (e.g. its address)
    since: Optional[_dt.datetime] = None
    expires_at: Optional[_dt.datetime] = None
    session_id: Optional[str] = None
    waiting: int = 0  #: on reads: campaigns queued behind the leader
    index: int = 0  #: on reads, X-OctoStore-Index: pass it to a blocking get_election

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], index: int = 0) -> "Election":
        return cls(
            name=str(doc.get("name", "")),
            status=str(doc.get("status", "")),
            elected=doc.get("status") == "leader",
            leader=str(doc.get("leader") or ""),
            lease_id=str(doc.get("lease_id") or ""),
            term=_int(doc, "term"),
            value=str(doc.get("value") or ""),
            since=parse_time(doc.get("since")),
            expires_at=parse_time(doc.get("expires_at")),
            session_id=_opt_str(doc, "session_id"),
            waiting=_int(doc, "waiting"),
            index=index,
        )


@dataclass(frozen=True)
class ElectionList:
    """One page of elections with a leader, in name order (every one
    ``elected``; ``waiting`` and ``index`` are left 0: a list does not
    say them)."""

    elections: List[Election]
    total: int
    next_after: Optional[str] = None  #: set when more follow: pass it as ``after``

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "ElectionList":
        return cls(
            elections=[Election.from_json(x) for x in doc.get("elections") or []],
            total=_int(doc, "total"),
            next_after=_opt_str(doc, "next_after"),
        )


@dataclass(frozen=True)
class ListedLock:
    """One lock of a list."""

    name: str
    status: str
    holder_id: str
    holder: str
    fencing_token: int
    expires_at: _dt.datetime
    metadata: Optional[str] = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "ListedLock":
        return cls(
            name=str(doc.get("name", "")),
            status=str(doc.get("status", "")),
            holder_id=str(doc.get("holder_id", "")),
            holder=str(doc.get("holder", "")),
            fencing_token=_int(doc, "fencing_token"),
            expires_at=_time(doc, "expires_at"),
            metadata=_opt_str(doc, "metadata"),
        )


@dataclass(frozen=True)
class LockList:
    """One page of held locks, in name order."""

    locks: List[ListedLock]
    total: int
    prefix: Optional[str] = None
    next_after: Optional[str] = None  #: set when more follow: pass it as ``after``

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "LockList":
        return cls(
            locks=[ListedLock.from_json(x) for x in doc.get("locks") or []],
            total=_int(doc, "total"),
            prefix=_opt_str(doc, "prefix"),
            next_after=_opt_str(doc, "next_after"),
        )


@dataclass(frozen=True)
class Namespace:
    """An owner namespace (a lock name's first component, under
    ``--tenancy isolated``) bound to the account that used it first."""

    name: str
    #: "github-user:ID" or "github-org:ID" (GitHub's numeric ID, never a
    #: login); "user:NAME" or "group:NAME" for static users and groups.
    account: str
    bound_at: _dt.datetime

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "Namespace":
        return cls(name=str(doc.get("name", "")), account=str(doc.get("account", "")), bound_at=_time(doc, "bound_at"))


@dataclass(frozen=True)
class NamespaceList:
    """One page of bound namespaces, in name order."""

    namespaces: List[Namespace]
    next_after: Optional[str] = None  #: set when more follow: pass it as ``after``

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "NamespaceList":
        return cls(
            namespaces=[Namespace.from_json(x) for x in doc.get("namespaces") or []],
            next_after=_opt_str(doc, "next_after"),
        )


@dataclass(frozen=True)
class SessionGrant:
    """A new session."""

    session_id: str
    expires_at: _dt.datetime
    keepalive_interval_secs: int  #: the server's advice: ttl/2

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "SessionGrant":
        return cls(
            session_id=str(doc.get("session_id", "")),
            expires_at=_time(doc, "expires_at"),
            keepalive_interval_secs=_int(doc, "keepalive_interval_secs"),
        )


@dataclass(frozen=True)
class KeepAliveResult:
    """A session's new expiry."""

    session_id: str
    expires_at: _dt.datetime

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "KeepAliveResult":
        return cls(session_id=str(doc.get("session_id", "")), expires_at=_time(doc, "expires_at"))


@dataclass(frozen=True)
class SessionStatus:
    """What ``GET /sessions/{id}`` says; an ended session stays readable
    (``active`` False) for an hour."""

    session_id: str
    user_id: str
    expires_at: _dt.datetime
    lock_count: int
    active: bool

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "SessionStatus":
        return cls(
            session_id=str(doc.get("session_id", "")),
            user_id=str(doc.get("user_id", "")),
            expires_at=_time(doc, "expires_at"),
            lock_count=_int(doc, "lock_count"),
            active=bool(doc.get("active")),
        )


@dataclass(frozen=True)
class Event:
    """One event of the stream: a lock ``acquired``, ``renewed``,
    ``released`` or ``expired``; or ``reset`` (the events after the one
    asked for are no longer kept: re-read the state; ``reason`` says why)."""

    type: str
    id: Optional[int] = None  #: the sequence number, to resume after
    lock: str = ""
    holder_id: str = ""
    fencing_token: int = 0
    timestamp: Optional[_dt.datetime] = None
    reason: str = ""

    @classmethod
    def from_json(cls, type_: str, id_: Optional[int], doc: Mapping[str, Any]) -> "Event":
        return cls(
            type=type_,
            id=id_,
            lock=str(doc.get("lock") or ""),
            holder_id=str(doc.get("holder_id") or ""),
            fencing_token=_int(doc, "fencing_token"),
            timestamp=parse_time(doc.get("timestamp")),
            reason=str(doc.get("reason") or ""),
        )


@dataclass(frozen=True)
class Webhook:
    """A registered webhook; its secret is never returned (``"****"`` when
    one is set)."""

    id: str
    user_id: str
    url: str
    events: List[str]
    created_at: Optional[_dt.datetime]
    active: bool
    secret: Optional[str] = None
    lock_pattern: Optional[str] = None
    failing_since: Optional[_dt.datetime] = None
    inactive_reason: Optional[str] = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "Webhook":
        return cls(
            id=str(doc.get("id", "")),
            user_id=str(doc.get("user_id", "")),
            url=str(doc.get("url", "")),
            events=[str(e) for e in doc.get("events") or []],
            created_at=parse_time(doc.get("created_at")),
            active=bool(doc.get("active")),
            secret=_opt_str(doc, "secret"),
            lock_pattern=_opt_str(doc, "lock_pattern"),
            failing_since=parse_time(doc.get("failing_since")),
            inactive_reason=_opt_str(doc, "inactive_reason"),
        )


@dataclass(frozen=True)
class TokenInfo:
    """A bearer token by its public ID; its value is never shown."""

    id: str
    user_id: str
    login: str
    source: str  #: static, bootstrap, github, rotated or created
    created_at: Optional[_dt.datetime]
    current: bool  #: the token of this client
    name: str = ""
    access: str = "full"  #: full, write or read
    prefixes: List[str] = field(default_factory=list)
    expires_at: Optional[_dt.datetime] = None
    last_used_at: Optional[_dt.datetime] = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "TokenInfo":
        return cls(**_token_fields(doc))


def _token_fields(doc: Mapping[str, Any]) -> Dict[str, Any]:
    return dict(
        id=str(doc.get("id", "")),
        user_id=str(doc.get("user_id", "")),
        login=str(doc.get("login", "")),
        source=str(doc.get("source", "")),
        created_at=parse_time(doc.get("created_at")),
        current=bool(doc.get("current")),
        name=str(doc.get("name") or ""),
        access=str(doc.get("access") or "full"),
        prefixes=[str(p) for p in doc.get("prefixes") or []],
        expires_at=parse_time(doc.get("expires_at")),
        last_used_at=parse_time(doc.get("last_used_at")),
    )


@dataclass(frozen=True)
class NewToken(TokenInfo):
    """A token just created: ``token`` is its value, shown only this once."""

    token: str = ""

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "NewToken":
        return cls(token=str(doc.get("token", "")), **_token_fields(doc))


@dataclass(frozen=True)
class ClusterNode:
    """One member of the cluster."""

    id: str
    raft_addr: str
    http_addr: str
    role: str
    voter: bool


@dataclass(frozen=True)
class ClusterStatus:
    """The cluster as the answering node sees it."""

    leader: str
    term: int
    commit_index: int
    applied_index: int
    self_id: str
    nodes: List[ClusterNode]

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "ClusterStatus":
        return cls(
            leader=str(doc.get("leader") or ""),
            term=_int(doc, "term"),
            commit_index=_int(doc, "commit_index"),
            applied_index=_int(doc, "applied_index"),
            self_id=str(doc.get("self") or ""),
            nodes=[
                ClusterNode(
                    id=str(n.get("id", "")),
                    raft_addr=str(n.get("raft_addr", "")),
                    http_addr=str(n.get("http_addr", "")),
                    role=str(n.get("role", "")),
                    voter=bool(n.get("voter")),
                )
                for n in doc.get("nodes") or []
            ],
        )
