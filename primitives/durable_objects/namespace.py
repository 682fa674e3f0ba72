"""``env.ROOMS``: the namespace binding, its stubs, and the factory ``build_env`` calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ..clock import Clock
from ..clone import structured_clone
from ..errors import ConfigError
from ..http import Request, Response
from .actor import Actor
from .alarms import AlarmScheduler
from .backend import DurableObjectBackend
from .backends import backend_for_url
from .ids import DurableObjectId, IdFactory
from .validation import DurableObjectError, DurableObjectTypeError, options_of

if TYPE_CHECKING:
    from ..config import BindingSpec

__all__ = [
    "DEFAULT_IDLE_SECONDS",
    "DurableObjectNamespace",
    "DurableObjectStub",
    "open_durable_object_namespace",
]

log = logging.getLogger("edgeroom.durable_objects")

#: An object idle this long (no events, only hibernatable sockets) is dropped from memory.
DEFAULT_IDLE_SECONDS = 10.0


class DurableObjectNamespace:
    """A Durable Object namespace binding (one class)."""

    def __init__(
        self,
        backend: DurableObjectBackend,
        *,
        object_class: type,
        env: Any,
        clock: Clock,
        name: str = "",
        unique_key: str | None = None,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self.backend = backend
        self.object_class = object_class
        self.env = env
        self.clock = clock
        self.name = name or object_class.__name__
        self.idle_seconds = idle_seconds
        self._ids = IdFactory(unique_key or f"edgeroom:{object_class.__name__}")
        self._actors: dict[str, Actor] = {}
        self.alarms = AlarmScheduler(clock, self._fire_alarm)
        self._start_task: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False

    # -- ids and stubs ----------
    def idFromName(self, name: str) -> DurableObjectId:
        return self._ids.from_name(name)

    def newUniqueId(
        self, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> DurableObjectId:
        return self._ids.unique(options_of(options, kwargs).get("jurisdiction"))

    def idFromString(self, id: str) -> DurableObjectId:
        return self._ids.from_string(id)

    def get(
        self, id: DurableObjectId, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> DurableObjectStub:
        options_of(options, kwargs)  # locationHint / routingMode: accepted, meaningless locally
        if not isinstance(id, DurableObjectId):
            raise DurableObjectTypeError(
                "get() takes a DurableObjectId (use idFromName/idFromString)"
            )
        if not self._ids.owns(id):
            raise DurableObjectTypeError("Durable Object ID is not valid for this namespace.")
        return DurableObjectStub(self, id)

    def getByName(
        self, name: str, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> DurableObjectStub:
        return self.get(self.idFromName(name), options, **kwargs)

    def jurisdiction(self, jurisdiction: str | None) -> DurableObjectNamespace:
        if jurisdiction is not None:
            raise DurableObjectError("Jurisdiction restrictions are not implemented in workerd.")
        return self

    # -- runtime ----------
    async def start(self) -> None:
        """Load persisted alarms and start the scheduler and the eviction sweeper.

        Idempotent; called on first use of a stub, and by the server at startup so alarms of
        objects nobody calls still fire after a restart.
        """
        if self._start_task is None:
            self._start_task = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(self._start_task)

    async def _start(self) -> None:
        if self._closed:
            raise DurableObjectError("this Durable Object namespace is closed")
        for id_hex, ms in (await self.backend.load_alarms()).items():
            if self.alarms.scheduled(id_hex) is None:
                self.alarms.set(id_hex, ms)
        self.alarms.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def actor(self, id: DurableObjectId) -> Actor:
        key = id.toString()
        actor = self._actors.get(key)
        if actor is None:
            if self._closed:
                raise DurableObjectError("this Durable Object namespace is closed")
            actor = self._actors[key] = Actor(self, id)
        return actor

    async def _ready(self) -> None:
        if self._start_task is None or not self._start_task.done():
            await self.start()

    async def _fire_alarm(self, id_hex: str, retry_count: int) -> None:
        await self.actor(self._ids.from_string(id_hex)).run_alarm(retry_count)

    async def _sweep(self) -> None:
        interval = max(self.idle_seconds / 4, 0.01)
        while True:
            await self.clock.sleep(interval)
            self.sweep()

    def sweep(self) -> int:
        """Evict idle objects now; returns how many instances were dropped."""
        now = self.clock.now()
        evicted = 0
        for key, actor in list(self._actors.items()):
            if actor.evictable(now, self.idle_seconds):
                actor.evict()
                evicted += 1
            if actor.is_dormant:
                del self._actors[key]
        return evicted

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def live_instances(self) -> int:
        """How many objects have an instance in memory."""
        return sum(1 for a in self._actors.values() if a.instance is not None)

    async def object_ids(self) -> list[DurableObjectId]:
        """Ids of objects with storage or in memory (for the testing helpers)."""
        found = set(await self.backend.object_ids()) | set(self._actors)
        return [self._ids.from_string(h) for h in sorted(found)]

    async def aclose(self) -> None:
        """Flush every object's storage, close the files, stop alarms and the sweeper."""
        self._closed = True
        await self.alarms.aclose()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for actor in list(self._actors.values()):
            if actor.store is not None:
                actor.evict()
            if actor._closing is not None:
                await asyncio.gather(actor._closing, return_exceptions=True)
        self._actors.clear()
        await self.backend.aclose()

    def __repr__(self) -> str:
        return f"<DurableObjectNamespace {self.name} ({self.object_class.__name__})>"


class DurableObjectStub:
    """A client for one object: ``await stub.fetch(...)`` and ``await stub.method(*args)`` (RPC)."""

    __slots__ = ("_ns", "id", "name")

    def __init__(self, namespace: DurableObjectNamespace, id: DurableObjectId) -> None:
        self._ns = namespace
        self.id = id
        self.name = id.name

    async def fetch(
        self, input: str | Request, init: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Response:
        """Send an HTTP request (or WebSocket upgrade) to the object's ``fetch`` handler."""
        options = {**(init or {}), **kwargs}
        if isinstance(input, Request) and not options:
            request = input
        else:
            url = input.url if isinstance(input, Request) else str(input)
            if "://" not in url:
                raise DurableObjectTypeError(f"Fetch API cannot load: {url}")
            request = Request(input, **options)
        await self._ns._ready()

        async def call(instance: Any) -> Response:
            handler = getattr(instance, "fetch", None)
            if handler is None:
                raise DurableObjectError("Handler does not export a fetch() function.")
            response = await handler(request)
            if not isinstance(response, Response):
                raise DurableObjectTypeError(
                    "Incorrect type for Promise: the Promise did not resolve to 'Response'."
                )
            return response

        response: Response = await _remote(self._ns.actor(self.id).deliver(call))
        return response

    def __getattr__(self, method: str) -> Any:
        if method.startswith("__"):
            raise AttributeError(method)

        async def rpc(*args: Any, **kwargs: Any) -> Any:
            return await self._call(method, args, kwargs)

        rpc.__name__ = method
        return rpc

    async def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        cloned_args = structured_clone(list(args))
        cloned_kwargs = structured_clone(kwargs) if kwargs else {}
        await self._ns._ready()

        async def call(instance: Any) -> Any:
            target = None if method.startswith("_") else getattr(instance, method, None)
            if target is None or not callable(target) or method in ("ctx", "env"):
                raise DurableObjectTypeError(
                    f'The RPC receiver does not implement the method "{method}".'
                )
            result = target(*cloned_args, **cloned_kwargs)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            return structured_clone(result)

        return await _remote(self._ns.actor(self.id).deliver(call))

    def __repr__(self) -> str:
        return f"<DurableObjectStub {self.id}>"


async def _remote(awaitable: Any) -> Any:
    try:
        return await awaitable
    except Exception as exc:
        try:
            exc.remote = True  # type: ignore[attr-defined]  # as Workers marks errors from a DO
        except AttributeError:
            pass
        raise


def open_durable_object_namespace(
    url: str,
    *,
    spec: BindingSpec,
    object_class: type,
    env: Any,
    clock: Clock,
    idle_seconds: float | None = None,
) -> DurableObjectNamespace:
    """Build the namespace binding (no I/O: storage opens on first use); ``build_env`` calls it.

    The idle time before eviction is ``idle_seconds``, else the URL's ``?idle_seconds=`` query
    parameter (``sqlite:///data/do/Room?idle_seconds=30``), else 10 s.
    """
    query = dict(parse_qsl(urlsplit(url).query))
    idle = idle_seconds
    if idle is None:
        try:
            idle = float(query.get("idle_seconds", DEFAULT_IDLE_SECONDS))
        except ValueError:
            raise ConfigError(f"idle_seconds in {url!r} must be a number of seconds") from None
    if idle <= 0:
        raise ConfigError(f"idle_seconds must be positive, got {idle} ({url!r})")
    return DurableObjectNamespace(
        backend_for_url(url.split("?", 1)[0]),
        object_class=object_class,
        env=env,
        clock=clock,
        name=spec.name,
        idle_seconds=idle,
    )
