"""The tenancy of one gateway process: its store, who a request is, what it may see."""

from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from gateway.auth.guard import guard
from gateway.auth.keys import Authenticator, Principal
from gateway.auth.limits import KeyLimits
from gateway.auth.ownership import Ownership
from gateway.auth.revocations import open_revocations
from gateway.settings import GatewaySettings
from gateway.store import GatewayStore

MAX_VIEWS = 10_000


@dataclass
class Tenancy:
    settings: GatewaySettings
    store: GatewayStore
    auth: Authenticator
    ownership: Ownership
    limits: KeyLimits
    # A project's view of the clients is stateless: built once per principal, not per request.
    _views: dict[Principal, object] = field(default_factory=dict, repr=False)
    _viewed: object = field(default=None, repr=False)

    @classmethod
    async def open(cls, settings: GatewaySettings, clients, stack: AsyncExitStack) -> "Tenancy":
        """Open the gateway database; `clients` are the raw stubs ownership checks use."""
        store = await GatewayStore.open(settings.db_url, stack)
        admin = settings.admin_key.get_secret_value() if settings.admin_key else None
        auth = Authenticator(store, admin)
        await open_revocations(stack, settings.nats_url, settings.events_subject_prefix, auth)
        return cls(settings, store, auth,
                   Ownership(store, clients.registry, clients.timeout),
                   KeyLimits(settings.rate_limit_per_minute,
                             settings.max_concurrent_generations))

    def view(self, clients, who: Principal):
        """`clients` as `who`'s project sees them."""
        if clients is not self._viewed or len(self._views) >= MAX_VIEWS:
            self._views, self._viewed = {}, clients
        view = self._views.get(who)
        if view is None:
            view = self._views[who] = guard(clients, self.ownership, who,
                                            self.settings.max_active_jobs)
        return view
