"""Key revocations told to every gateway replica over NATS, so each forgets the key at once.

Core NATS, not JetStream: a replica that is down holds no remembered keys to forget, and one
that starts later asks the database. The cache TTL (keys.KEY_CACHE_TTL_S) still bounds the
window should a message be lost.
"""

import asyncio
import logging
from contextlib import AsyncExitStack
from urllib.parse import urlsplit

import nats

log = logging.getLogger(__name__)


def subject(prefix: str) -> str:
    # Outside the events' `<prefix>.>` stream: nothing needs to keep these messages.
    return f"{prefix}-gateway.keys.revoked"


async def open_revocations(stack: AsyncExitStack, nats_url: str, prefix: str, auth) -> None:
    """Subscribe `auth` to revocations, and make its `revoke` tell the other replicas."""
    nc = await nats.connect(nats_url, name="tuneforge-gateway-keys", max_reconnect_attempts=-1)
    stack.push_async_callback(nc.close)

    async def forget(msg) -> None:
        auth.forget(msg.data.decode())

    await nc.subscribe(subject(prefix), cb=forget)

    async def tell(sha256: str) -> None:
        await nc.publish(subject(prefix), sha256.encode())
        await nc.flush()

    auth.announce = tell


async def announce(nats_url: str, prefix: str, sha256: str) -> bool:
    """Tell the running gateways (for the CLI); False when NATS cannot be reached."""
    url = urlsplit(nats_url)
    try:  # nats-py retries a refused first connection forever: look before connecting
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(url.hostname, url.port or 4222), 2)
        writer.close()
        nc = await asyncio.wait_for(nats.connect(nats_url, name="tuneforge-cli",
                                                 allow_reconnect=False), 5)
    except (OSError, TimeoutError):
        log.warning("could not reach NATS at %s to tell the gateways", nats_url)
        return False
    try:
        await nc.publish(subject(prefix), sha256.encode())
        await nc.flush()
    finally:
        await nc.close()
    return True
