"""API keys: made once, shown once, stored as a sha256 digest, checked in constant time."""

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.store import DEFAULT_PROJECT, ApiKey, GatewayStore
from services.common.errors import TuneForgeError

KEY_PREFIX = "tf-"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the project acted for, the key used, and whether it is the admin."""

    project_id: str
    key_id: str
    admin: bool = False


LOCAL = Principal(DEFAULT_PROJECT, "local", admin=True)
ADMIN = Principal(DEFAULT_PROJECT, "admin", admin=True)
KEY_CACHE_TTL_S = 1.0
MAX_REMEMBERED = 10_000


def digest(key: str) -> str:
    # A key has 256 random bits, so a plain (unsalted, fast) hash cannot be brute-forced.
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(store: GatewayStore, project_id: str, name: str = "") -> tuple[ApiKey, str]:
    """A new key of `project_id`: its record and the secret, which is never stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(id="key_" + secrets.token_hex(8), project_id=project_id, name=name,
                 prefix=secret[:10], sha256=digest(secret), created_at=int(time.time()),
                 revoked_at=None)
    return await store.add_key(key), secret


def _unauthenticated(message: str) -> TuneForgeError:
    return TuneForgeError("unauthenticated", message)


class Authenticator:
    """Turns an Authorization header into a Principal, or a 401.

    A verified key is remembered for `ttl_s`, so a client's stream of requests costs one
    database query per `ttl_s` instead of one each (the query cost about 2 ms of the
    gateway's CPU per request in bench/serve_bench.py). Revoking (`revoke`, here or on another
    replica, or with the CLI) forgets the key at once on every replica, told over NATS (see
    revocations.py); `ttl_s` bounds the window should that message be lost. Unknown and
    revoked keys are never remembered.
    """

    def __init__(self, store: GatewayStore, admin_key: str | None,
                 ttl_s: float = KEY_CACHE_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.admin_key = admin_key
        self.ttl_s, self.clock = ttl_s, clock
        self._verified: dict[str, tuple[float, Principal]] = {}  # digest -> (until, who)
        self._revocations = 0  # a lookup that raced a revocation here is not remembered
        self.announce: Callable[[str], Awaitable[None]] | None = None  # tells the replicas

    async def authenticate(self, authorization: str | None) -> Principal:
        if self.admin_key is None:
            return LOCAL
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated("Missing API key: send the header "
                                   "'Authorization: Bearer <key>'.")
        if hmac.compare_digest(token.encode(), self.admin_key.encode()):
            return ADMIN
        want = digest(token)
        hit = self._verified.get(want)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        revocations = self._revocations
        key = await self.store.key_by_hash(want)
        # The lookup is by digest; comparing again in constant time keeps the check honest
        # should the lookup ever become a prefix or case-insensitive match.
        if key is None or not hmac.compare_digest(key.sha256, want):
            raise _unauthenticated(f"Incorrect API key provided: {token[:6]}***.")
        if key.revoked_at is not None:
            self._verified.pop(want, None)
            raise _unauthenticated(f"API key {key.id} has been revoked.")
        who = Principal(key.project_id, key.id)
        if revocations == self._revocations:
            if len(self._verified) >= MAX_REMEMBERED:
                self._verified.clear()  # a crude bound, hit only with that many keys in use
            self._verified[want] = (self.clock() + self.ttl_s, who)
        return who

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke `key_id` in the store and refuse it from the next request on: here, and on
        the other replicas once `announce` (see revocations.py) has told them."""
        self._revocations += 1
        key = await self.store.revoke_key(key_id)
        self.forget(key.sha256)
        if self.announce is not None:
            await self.announce(key.sha256)
        return key

    def forget(self, sha256: str) -> None:
        """Drop a remembered key (revoked here or on another replica)."""
        self._revocations += 1
        self._verified.pop(sha256, None)
