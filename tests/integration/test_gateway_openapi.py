"""Property-based: schemathesis drives every operation of the gateway's OpenAPI document with
generated requests; no answer may be a 5xx or break the documented schema."""

from contextlib import AsyncExitStack

import pytest
import schemathesis
from schemathesis import checks
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, Phase, given, settings

from gateway.app import create_app
from gateway.settings import GatewaySettings
from tests.integration.gateway_stack import fake_services


@pytest.fixture(scope="module")
def api_schema(nats_url, tmp_path_factory):
    """The schema of a gateway app in front of the fake services, which run on a loop of
    their own: schemathesis calls the app synchronously from its own event-loop thread."""
    with start_blocking_portal() as portal:
        stack = AsyncExitStack()

        async def start():
            _, addrs = await stack.enter_async_context(fake_services(stack))
            return addrs

        addrs = portal.call(start)
        app = create_app(GatewaySettings(
            _env_file=None, nats_url=nats_url, data_dir=tmp_path_factory.mktemp("gw"),
            events_subject_prefix="tfopenapi", **addrs))
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
        schemathesis.python.asgi.shutdown_lifespans()
        portal.call(stack.aclose)


# What "within the contract" means here: no 5xx, only documented statuses, content types,
# headers and bodies. (positive_data_acceptance also flags constraints the routers check in
# code but do not document, e.g. chat `stop` at most 4 strings; those are reported to the
# routers' owners rather than failing this test.)
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance]


def _summary(e: BaseException) -> str:
    # The reproducing curl of a generated body can run to many kilobytes.
    return str(e).split("Reproduce with")[0].strip()[:1500]


def _operations() -> list[tuple[str, str]]:
    # Collected from the app's own document, so a new route is driven without listing it.
    doc = create_app(GatewaySettings(_env_file=None)).openapi()
    return [(path, method.upper()) for path, ops in doc["paths"].items() for method in ops]


@pytest.mark.parametrize(("path", "method"), _operations())
def test_operation_answers_within_its_documented_schema(api_schema, path, method):
    operation = api_schema[path][method]

    # No shrinking: on these nested bodies it can take minutes, and the message already
    # names the failing check and the answer.
    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(checks=CHECKS)

    try:
        run()
    except Exception as e:  # noqa: BLE001 - reported without the kilobytes of curl
        pytest.fail(_summary(e), pytrace=False)
