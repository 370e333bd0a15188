"""`python -m gateway.cli`: projects and keys straight in the gateway database."""

import asyncio
from contextlib import AsyncExitStack

from gateway.auth.keys import Authenticator
from gateway.cli import main
from gateway.settings import GatewaySettings
from gateway.store import GatewayStore


def settings(tmp_path) -> GatewaySettings:
    return GatewaySettings(_env_file=None, data_dir=tmp_path)


async def authenticate(s: GatewaySettings, key: str):
    async with AsyncExitStack() as stack:
        store = await GatewayStore.open(s.db_url, stack)
        try:
            return await Authenticator(store, "admin").authenticate(f"Bearer {key}")
        except Exception as e:  # noqa: BLE001 - the test looks at the message
            return e


def test_created_key_is_printed_once_and_authenticates_for_its_project(tmp_path, capsys):
    s = settings(tmp_path)
    assert main(["projects", "create", "team-a"], s) == 0
    capsys.readouterr()

    assert main(["keys", "create", "--project", "team-a", "--name", "ci"], s) == 0
    key = capsys.readouterr().out.strip()
    main(["keys", "list"], s)
    listing = capsys.readouterr().out

    assert asyncio.run(authenticate(s, key)).project_id == "team-a"
    assert key not in listing and "team-a" in listing and "active" in listing


def test_revoked_key_no_longer_authenticates(tmp_path, capsys):
    s = settings(tmp_path)
    main(["keys", "create"], s)
    key = capsys.readouterr().out.strip()
    main(["keys", "list"], s)
    key_id = capsys.readouterr().out.split("\t")[0]

    assert main(["keys", "revoke", key_id], s) == 0
    err = asyncio.run(authenticate(s, key))

    assert "revoked" in str(err)


def test_key_for_unknown_project_fails_naming_it(tmp_path, capsys):
    assert main(["keys", "create", "--project", "ghost"], settings(tmp_path)) == 1
    assert "ghost" in capsys.readouterr().err
