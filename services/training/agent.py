"""A training agent on its own: `python -m services.training.agent` on each GPU host.

It pulls jobs from the work queue and trains them; it serves no API. Configure it like the
training service (TUNEFORGE_TRAINING_* and the common settings): the same database, artifact
store and NATS, and a unique TUNEFORGE_TRAINING_AGENT_ID per host. Stop it with SIGTERM: its
running jobs go to another agent (or to it again once restarted) and continue from their
latest checkpoint.
"""

import asyncio
import logging
import signal
from contextlib import AsyncExitStack

from services.common.grpc_server import configure_logging
from services.common.metrics import ServiceMetrics, TrainingMetrics, serve_metrics
from services.training.server import count_tokens, open_agent
from services.training.settings import TrainingSettings

log = logging.getLogger(__name__)


async def serve(settings: TrainingSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        settings = settings.model_copy(update={"run_agent": True})
        parts = await open_agent(stack, settings)
        accel = parts.accel
        if settings.metrics_port:
            # Liveness for orchestrators and what this agent published; no gRPC API here.
            metrics = ServiceMetrics("training-agent")
            parts.events.observe(metrics.on_event)
            parts.events.observe(count_tokens(TrainingMetrics(metrics.registry)))
            serve_metrics(stack, metrics.registry, "0.0.0.0", settings.metrics_port)
        log.info("training agent %s ready: %d GPU(s), %d CPU core(s)", settings.agent_id,
                 accel.cuda_devices, accel.cpu_count)
        await stop.wait()
        log.info("training agent %s stopping", settings.agent_id)


def main() -> None:
    settings = TrainingSettings()
    configure_logging("training-agent", settings.log_level, settings.log_format)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
