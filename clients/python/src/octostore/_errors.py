"""Typed errors, mapped from the HTTP status and the answer's ``code``.

Every error has the same attributes; ``status`` is ``None`` when no answer
arrived (the server was unreachable, or the connection broke).
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, Mapping, Optional, Type

from ._models import parse_time


class OctoStoreError(Exception):
    """Base of every error of this package."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: Optional[int] = None,
        code: Optional[str] = None,
        details: Optional[str] = None,
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.details = details
        self.request_id = request_id
        #: Seconds the server asked to wait (``Retry-After``), when it did.
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = []
        if self.method:
            parts.append(f"{self.method} {self.path}:")
        if self.status is not None:
            parts.append(str(self.status))
        parts.append(self.message)
        s = " ".join(parts)
        if self.details:
            s += ": " + self.details
        if self.code:
            s += f" [{self.code}]"
        if self.request_id:
            s += f" request {self.request_id}"
        return s


class APIError(OctoStoreError):
    """An answer other than success that no more specific class covers."""


class LockHeld(OctoStoreError):
    """Another holder has the lock (409 ``lock_held``)."""

    #: The lock's name, its holder and the holder's expiry, from the answer.
    name: str = ""
    holder: str = ""
    expires_at: Optional[_dt.datetime] = None


class LimitMismatch(LockHeld):
    """A semaphore asked with another limit than its current holders'
    (409 ``limit_mismatch``). A LockHeld: ``holder`` is one of them."""

    #: The limit the current holders asked with (1 for a mutex or a
    #: read/write lock).
    limit: int = 0


class NotFound(OctoStoreError):
    """The lock, lease, session, webhook or token does not exist or is not
    the caller's, or the namespace is not bound (404; ``code`` says which:
    ``lock_not_found``, ``namespace_not_found``, ...)."""


class Unauthorized(OctoStoreError):
    """The token is missing, wrong, expired or revoked (401)."""


class Forbidden(OctoStoreError):
    """Only an administrator may do this, or the token's scope does not
    cover it (403)."""


class TokenScope(Forbidden):
    """A scoped token used outside its prefixes or access (403
    ``token_scope``)."""


class SessionExpired(OctoStoreError):
    """The session has ended (410)."""


class Invalid(OctoStoreError):
    """The server refused the request's input (400, 413, 422), or the
    client did before sending it."""


class RateLimited(OctoStoreError):
    """Too many requests, locks, sessions or streams (429); see
    ``retry_after``."""


class Unavailable(OctoStoreError):
    """The server cannot answer now: 503, or unreachable after the
    retries."""


class OutcomeUnknown(Unavailable):
    """A write was sent but its answer was lost (503 ``outcome_unknown``,
    a timeout or a broken connection after sending). It may or may not
    have been applied: read the state to find out."""


class LeaseLost(OctoStoreError):
    """The lease can no longer be proven held: a renewal was refused, or
    its local deadline passed without a confirmed one."""


class LeadershipLost(LeaseLost):
    """An election's leadership can no longer be proven held (a
    Leadership's ``check()``); a LeaseLost."""


class SessionLost(OctoStoreError):
    """The session can no longer be proven alive."""


class StreamEnded(OctoStoreError):
    """The server ended an event stream with an error event (the client
    fell too far behind)."""


def unknown_outcome(method: str, status: int, code: Optional[str]) -> bool:
    """The server says a write may have been applied (a server-side
    timeout of a write is the same: it was queued)."""
    return status == 503 and (code == "outcome_unknown" or (code == "timeout" and method != "GET"))


def not_applied(status: int, code: Optional[str]) -> bool:
    """The server says nothing was applied: any request may be repeated."""
    return status == 503 and code in ("no_leader", "shutting_down")


def _class_for(method: str, status: int, code: Optional[str]) -> Type[OctoStoreError]:
    if status == 409 and code == "lock_held":
        return LockHeld
    if status == 409 and code == "limit_mismatch":
        return LimitMismatch
    if status == 403:
        return TokenScope if code == "token_scope" else Forbidden
    if status == 503:
        return OutcomeUnknown if unknown_outcome(method, status, code) else Unavailable
    return {
        404: NotFound,
        401: Unauthorized,
        410: SessionExpired,
        400: Invalid,
        413: Invalid,
        422: Invalid,
        429: RateLimited,
    }.get(status, APIError)


def _retry_after(value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    try:
        n = int(value.strip())
    except ValueError:
        return None
    return float(n) if n >= 0 else None


def from_answer(
    method: str, path: str, status: int, headers: Mapping[str, str], body: bytes
) -> OctoStoreError:
    """The error an answer other than 2xx stands for."""
    message, details, code = "", None, None
    lock: Any = None
    limit: Any = None
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        message = str(doc.get("error") or "")
        details = doc.get("details") if isinstance(doc.get("details"), str) else None
        code = doc.get("code") if isinstance(doc.get("code"), str) else None
        # A campaign's conflict names the leader as a lock's names its holder.
        lock = doc.get("lock") if isinstance(doc.get("lock"), dict) else doc.get("leader")
        limit = doc.get("limit")
    if not message:
        message = _STATUS_TEXT.get(status, f"HTTP {status}")
    cls = _class_for(method, status, code)
    err = cls(
        message,
        method=method,
        path=path,
        status=status,
        code=code,
        details=details,
        request_id=headers.get("x-request-id"),
        retry_after=_retry_after(headers.get("retry-after")),
    )
    if isinstance(err, LockHeld) and isinstance(lock, dict):
        err.name = str(lock.get("name") or "")
        err.holder = str(lock.get("holder") or "")
        err.expires_at = parse_time(lock.get("expires_at"))
    if isinstance(err, LimitMismatch) and isinstance(limit, int) and not isinstance(limit, bool):
        err.limit = limit
    return err


_STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    413: "Request Entity Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
