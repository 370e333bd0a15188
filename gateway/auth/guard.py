"""gRPC stubs as one project sees them: every call that names an object is checked against
its owner first, every list is filtered, every created object is recorded.

The routers keep calling `clients.<service>.<Rpc>`; `guard()` hands them these stubs in
place of the raw ones, so a new route gets isolation without knowing about it.
"""

import dataclasses
from collections.abc import Awaitable, Callable

from gateway.auth import rules
from gateway.auth.keys import Principal
from gateway.auth.ownership import Ownership

Check = Callable[[object], Awaitable[None]]
After = Callable[[object, object], Awaitable[object]]


class _CheckedStream:
    """A server stream that is opened only after `before` passed; cancellable like a call."""

    def __init__(self, method, request, kwargs, before: Check):
        self._method, self._request, self._kwargs, self._before = method, request, kwargs, before
        self._call = None

    async def __aiter__(self):
        await self._before(self._request)
        self._call = self._method(self._request, **self._kwargs)
        async for item in self._call:
            yield item

    def cancel(self) -> bool:
        return self._call.cancel() if self._call is not None else False


class _Stub:
    def __init__(self, stub, rules: dict[str, tuple[str, Check, After | None]]):
        self._stub, self._rules = stub, rules

    def __getattr__(self, name):
        method = getattr(self._stub, name)
        if name not in self._rules:
            return method
        shape, before, after = self._rules[name]
        if shape == "stream":
            return lambda request, **kw: _CheckedStream(method, request, kw, before)

        async def call(request, **kw):
            await before(request)
            response = await method(request, **kw)
            return await after(request, response) if after else response
        return call


def guard(clients, own: Ownership, who: Principal, max_active_jobs: int):
    """`clients` with every stub replaced by the view of `who`'s project."""
    return dataclasses.replace(
        clients,
        dataset=_Stub(clients.dataset, rules.dataset(own, who)),
        training=_Stub(clients.training,
                       rules.training(own, who, max_active_jobs, clients.training)),
        registry=_Stub(clients.registry, rules.registry(own, who)),
        inference=_Stub(clients.inference, rules.inference(own, who)),
    )
