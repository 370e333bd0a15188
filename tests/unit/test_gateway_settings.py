"""Gateway settings: keys are required before the gateway leaves loopback."""

import pytest
from pydantic import ValidationError

from gateway.settings import GatewaySettings


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "gateway.internal", "::"])
def test_non_loopback_host_without_admin_key_refuses_to_start(host):
    with pytest.raises(ValidationError, match="set TUNEFORGE_ADMIN_KEY"):
        GatewaySettings(_env_file=None, host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_host_without_admin_key_runs_without_auth(host):
    assert not GatewaySettings(_env_file=None, host=host).auth_enabled


def test_admin_key_from_environment_enables_auth_on_any_host(monkeypatch):
    monkeypatch.setenv("TUNEFORGE_ADMIN_KEY", "tf-from-env")

    s = GatewaySettings(_env_file=None, host="0.0.0.0")

    assert s.auth_enabled and s.admin_key.get_secret_value() == "tf-from-env"
