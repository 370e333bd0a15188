"""`python -m gateway.cli`: manage projects and API keys straight in the gateway database.

    python -m gateway.cli projects create team-a --name "Team A"
    python -m gateway.cli keys create --project team-a --name ci
    python -m gateway.cli keys list [--project team-a]
    python -m gateway.cli keys revoke key_0123abcd
"""

import argparse
import asyncio
import sys
from contextlib import AsyncExitStack

from gateway.auth.keys import create_key
from gateway.auth.revocations import announce
from gateway.settings import GatewaySettings
from gateway.store import DEFAULT_PROJECT, GatewayStore
from services.common.errors import TuneForgeError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gateway.cli", description=__doc__.split("\n")[0])
    groups = p.add_subparsers(dest="group", required=True)
    projects = groups.add_parser("projects").add_subparsers(dest="action", required=True)
    pc = projects.add_parser("create", help="create a project")
    pc.add_argument("id")
    pc.add_argument("--name", default="")
    projects.add_parser("list", help="list projects")
    keys = groups.add_parser("keys").add_subparsers(dest="action", required=True)
    kc = keys.add_parser("create", help="create a key; the secret is printed once")
    kc.add_argument("--project", default=DEFAULT_PROJECT)
    kc.add_argument("--name", default="")
    kl = keys.add_parser("list", help="list keys (never their secrets)")
    kl.add_argument("--project", default=None)
    kr = keys.add_parser("revoke", help="revoke a key at once")
    kr.add_argument("key_id")
    return p


async def _run(args, settings: GatewaySettings) -> None:
    async with AsyncExitStack() as stack:
        store = await GatewayStore.open(settings.db_url, stack)
        match (args.group, args.action):
            case ("projects", "create"):
                p = await store.create_project(args.id, args.name or args.id)
                print(f"{p.id}\t{p.name}")
            case ("projects", "list"):
                for p in await store.list_projects():
                    print(f"{p.id}\t{p.name}")
            case ("keys", "create"):
                key, secret = await create_key(store, args.project, args.name)
                print(f"created {key.id} for project {key.project_id}; "
                      "the key is shown only now:", file=sys.stderr)
                print(secret)
            case ("keys", "list"):
                for k in await store.list_keys(args.project):
                    state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
                    print(f"{k.id}\t{k.project_id}\t{k.prefix}…\t{k.name}\t{state}")
            case ("keys", "revoke"):
                k = await store.revoke_key(args.key_id)
                told = await announce(settings.nats_url, settings.events_subject_prefix,
                                      k.sha256)
                print(f"revoked {k.id}" + ("" if told else
                                           " (running gateways refuse it within a second)"))


def main(argv: list[str] | None = None, settings: GatewaySettings | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_run(args, settings or GatewaySettings()))
    except TuneForgeError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
