"""Verified API keys are remembered briefly; a revocation is still honoured."""

import asyncio
import dataclasses

import pytest

from gateway.auth.keys import Authenticator, Principal, digest
from gateway.store import ApiKey
from services.common.errors import TuneForgeError

SECRET = "tf-secret-of-team-a"


class Store:
    """The two store calls the authenticator makes, counting lookups."""

    def __init__(self):
        self.keys = {digest(SECRET): ApiKey("key_a", "team-a", "ci", SECRET[:10],
                                            digest(SECRET), 0, None)}
        self.lookups = 0

    async def key_by_hash(self, sha256: str) -> ApiKey | None:
        self.lookups += 1
        return self.keys.get(sha256)

    async def revoke_key(self, key_id: str) -> ApiKey:
        """As another gateway replica or the CLI would: straight in the database."""
        for d, k in self.keys.items():
            if k.id == key_id:
                self.keys[d] = dataclasses.replace(k, revoked_at=1)
                return self.keys[d]
        raise KeyError(key_id)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(store, clock) -> Authenticator:
    return Authenticator(store, "tf-admin", ttl_s=1.0, clock=clock)


async def test_a_key_is_looked_up_once_while_remembered(auth, store, clock):
    first = await auth.authenticate(f"Bearer {SECRET}")
    clock.now += 0.9
    again = await auth.authenticate(f"Bearer {SECRET}")

    assert first == again == Principal("team-a", "key_a")
    assert store.lookups == 1


async def test_a_key_is_looked_up_again_once_the_ttl_has_passed(auth, store, clock):
    await auth.authenticate(f"Bearer {SECRET}")
    clock.now += 1.01
    await auth.authenticate(f"Bearer {SECRET}")

    assert store.lookups == 2


async def test_revoking_through_this_gateway_refuses_the_next_request(auth, clock):
    await auth.authenticate(f"Bearer {SECRET}")

    await auth.revoke("key_a")
    with pytest.raises(TuneForgeError) as e:
        await auth.authenticate(f"Bearer {SECRET}")

    assert e.value.code == "unauthenticated" and "revoked" in e.value.message


async def test_a_lookup_racing_a_revocation_here_is_not_remembered(auth, store):
    release = asyncio.Event()
    lookup = store.key_by_hash

    async def slow_lookup(sha256):
        found = await lookup(sha256)  # read before the revocation commits
        await release.wait()
        return found

    store.key_by_hash = slow_lookup
    racing = asyncio.create_task(auth.authenticate(f"Bearer {SECRET}"))
    await asyncio.sleep(0)
    await auth.revoke("key_a")
    release.set()
    await racing
    store.key_by_hash = lookup

    with pytest.raises(TuneForgeError) as e:
        await auth.authenticate(f"Bearer {SECRET}")
    assert "revoked" in e.value.message


async def test_a_revocation_made_elsewhere_is_refused_within_the_ttl(auth, store, clock):
    await auth.authenticate(f"Bearer {SECRET}")
    await store.revoke_key("key_a")  # another replica, or the CLI

    clock.now += 1.01
    with pytest.raises(TuneForgeError) as e:
        await auth.authenticate(f"Bearer {SECRET}")

    assert "revoked" in e.value.message


async def test_unknown_keys_are_never_remembered(auth, store):
    for _ in range(2):
        with pytest.raises(TuneForgeError) as e:
            await auth.authenticate("Bearer tf-not-a-key")
        assert "Incorrect API key" in e.value.message

    assert store.lookups == 2


async def test_the_admin_key_needs_no_lookup(auth, store):
    who = await auth.authenticate("Bearer tf-admin")

    assert who.admin and store.lookups == 0
