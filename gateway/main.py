"""Process entry point: `python -m gateway`."""

import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.common.grpc_server import configure_logging


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_format)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_config=None, timeout_graceful_shutdown=5)
