"""OctoStore's Python client: typed calls for every route, typed errors,
safe retries, self-renewing leases and sessions, and resuming event
streams; ``octostore.aio`` has the asyncio twin.

    from octostore import Client

    client = Client("http://127.0.0.1:3000", token)
    with client.lock("jobs/nightly", ttl=30, wait=60) as lease:
        lease.check()
        run(fencing_token=lease.fencing_token)
"""

from ._core import Retry
from ._errors import (
    APIError,
    Forbidden,
    Invalid,
    LeadershipLost,
    LeaseLost,
    LimitMismatch,
    LockHeld,
    NotFound,
    OctoStoreError,
    OutcomeUnknown,
    RateLimited,
    SessionExpired,
    SessionLost,
    StreamEnded,
    TokenScope,
    Unauthorized,
    Unavailable,
)
from ._models import (
    ClusterNode,
    ClusterStatus,
    Election,
    ElectionList,
    Event,
    KeepAliveResult,
    ListedLock,
    Lock,
    LockHolder,
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
from .aio import AsyncClient, AsyncEventStream, AsyncLeadership, AsyncLease, AsyncSession
from .client import Client, EventStream, Leadership, Lease, Session

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AsyncClient",
    "AsyncEventStream",
    "AsyncLeadership",
    "AsyncLease",
    "AsyncSession",
    "Client",
    "ClusterNode",
    "ClusterStatus",
    "Election",
    "ElectionList",
    "Event",
    "EventStream",
    "Forbidden",
    "Invalid",
    "KeepAliveResult",
    "Leadership",
    "Lease",
    "LeadershipLost",
    "LeaseLost",
    "LimitMismatch",
    "ListedLock",
    "Lock",
    "LockHeld",
    "LockHolder",
    "LockList",
    "LockStatus",
    "Namespace",
    "NamespaceList",
    "NewToken",
    "NotFound",
    "OctoStoreError",
    "OutcomeUnknown",
    "RateLimited",
    "Retry",
    "Session",
    "SessionExpired",
    "SessionGrant",
    "SessionLost",
    "SessionStatus",
    "StreamEnded",
    "TokenInfo",
    "TokenScope",
    "Unauthorized",
    "Unavailable",
    "Webhook",
]
