"""API keys: made once, shown once, stored as a sha256 digest, checked in constant time."""

import hashlib
import hmac
import secrets
import time
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
    """Turns an Authorization header into a Principal, or a 401."""

    def __init__(self, store: GatewayStore, admin_key: str | None):
        self.store = store
        self.admin_key = admin_key

    async def authenticate(self, authorization: str | None) -> Principal:
        if self.admin_key is None:
            return LOCAL
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated("Missing API key: send the header "
                                   "'Authorization: Bearer <key>'.")
        if hmac.compare_digest(token.encode(), self.admin_key.encode()):
            return Principal(DEFAULT_PROJECT, "admin", admin=True)
        want = digest(token)
        key = await self.store.key_by_hash(want)
        # The lookup is by digest; comparing again in constant time keeps the check honest
        # should the lookup ever become a prefix or case-insensitive match.
        if key is None or not hmac.compare_digest(key.sha256, want):
            raise _unauthenticated(f"Incorrect API key provided: {token[:6]}***.")
        if key.revoked_at is not None:
            raise _unauthenticated(f"API key {key.id} has been revoked.")
        return Principal(key.project_id, key.id)
