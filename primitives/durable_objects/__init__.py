"""Durable Objects: single-instance actors with input/output gates, transactional storage
(KV + SQL in one SQLite database per object), alarms and hibernatable WebSockets.

``primitives.env.build_env`` calls :func:`open_durable_object_namespace`; see
``docs/durable-objects.md`` for the guarantees and how they are kept.
"""

from __future__ import annotations

from .ids import DurableObjectId
from .namespace import DurableObjectNamespace, DurableObjectStub, open_durable_object_namespace
from .state import DurableObject, DurableObjectState, WebSocketRequestResponsePair
from .storage import DurableObjectStorage
from .transaction import DurableObjectTransaction
from .validation import DurableObjectError, DurableObjectResetError, RangeError, SqlError

__all__ = [
    "DurableObject",
    "DurableObjectError",
    "DurableObjectId",
    "DurableObjectNamespace",
    "DurableObjectResetError",
    "DurableObjectState",
    "DurableObjectStorage",
    "DurableObjectStub",
    "DurableObjectTransaction",
    "RangeError",
    "SqlError",
    "WebSocketRequestResponsePair",
    "open_durable_object_namespace",
]
