"""`python -m services.common.healthcheck`: the health check containers run."""

import asyncio
import subprocess
import sys
import threading
from contextlib import AsyncExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest

from services.common.grpc_server import running_server
from services.common.healthcheck import check_grpc, check_http, main
from tests.conftest import ROOT
from tests.support import free_port


async def _no_servicer(stack: AsyncExitStack, server: grpc.aio.Server) -> None:
    """Only the health service, as every TuneForge server registers it."""


@pytest.fixture
async def grpc_port():
    async with running_server("registry", "127.0.0.1:0", _no_servicer) as port:
        yield port


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server calls
        ok = self.path == "/ready"
        self.send_response(200 if ok else 503)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}' if ok else b'{"status": "unavailable"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def http_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_grpc_check_passes_for_the_serving_service_and_the_whole_server(grpc_port):
    assert await asyncio.to_thread(main, [f"127.0.0.1:{grpc_port}", "registry"]) == 0
    assert await asyncio.to_thread(main, [f"127.0.0.1:{grpc_port}"]) == 0


async def test_grpc_check_names_a_service_the_server_does_not_know(grpc_port):
    problem = await asyncio.to_thread(check_grpc, f"127.0.0.1:{grpc_port}", "dataset")
    assert problem == f"127.0.0.1:{grpc_port} does not know service 'dataset'"


def test_grpc_check_says_when_nothing_listens():
    address = f"127.0.0.1:{free_port()}"
    problem = check_grpc(address, "registry", timeout_s=2)
    assert problem.startswith(f"{address} unreachable: ")


def test_http_check_passes_on_200_and_reports_status_and_body_otherwise(http_url):
    assert check_http(f"{http_url}/ready") is None
    assert check_http(f"{http_url}/health/x") == (
        f'{http_url}/health/x answered 503: {{"status": "unavailable"}}')


def test_http_target_takes_no_service_name(capsys):
    with pytest.raises(SystemExit):
        main(["http://127.0.0.1:1/ready", "registry"])
    assert "only goes with a gRPC" in capsys.readouterr().err


def test_command_exits_1_and_says_why_on_stderr():
    address = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "services.common.healthcheck", address, "registry",
         "--timeout", "2"], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr.startswith(f"unhealthy: {address} unreachable: ")
