"""The training work queue on NATS JetStream: the service submits job ids, agents pull them.

A message stays with the agent that pulled it while the agent reports progress
(`in_progress`); an agent that dies stops reporting, so after `ack_wait` JetStream hands the
job to another agent, which resumes it from its latest checkpoint. The queue says which job to
look at; the job's row (status, agent, heartbeat) decides who may run it.
"""

import logging
from contextlib import AsyncExitStack

import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

log = logging.getLogger(__name__)

CONSUMER = "training-agents"


class WorkQueue:
    def __init__(self, url: str, stream: str, subject: str, ack_wait_s: float):
        self.url, self.stream, self.subject, self.ack_wait_s = url, stream, subject, ack_wait_s
        self._nc: nats.NATS | None = None
        self._js = None
        self._sub = None

    @classmethod
    async def open(cls, stack: AsyncExitStack, url: str, events_prefix: str,
                   ack_wait_s: float) -> "WorkQueue":
        """Connect and make sure the stream and the shared pull consumer exist."""
        # Outside the events' `<prefix>.>` subjects: JetStream streams may not overlap.
        name = "".join(c if c.isalnum() else "_" for c in events_prefix).upper()
        queue = cls(url, f"{name}_TRAINING_WORK", f"{events_prefix}-work.training.jobs",
                    ack_wait_s)
        await queue._connect()
        stack.push_async_callback(queue.close)
        return queue

    async def _connect(self) -> None:
        self._nc = await nats.connect(self.url, name="tuneforge-training-queue",
                                      max_reconnect_attempts=-1)
        self._js = self._nc.jetstream()
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            try:
                await self._js.add_stream(StreamConfig(
                    name=self.stream, subjects=[self.subject],
                    retention=RetentionPolicy.WORK_QUEUE))
            except BadRequestError:  # created concurrently by another agent
                pass
        self._sub = await self._js.pull_subscribe(
            self.subject, durable=CONSUMER, stream=self.stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait_s,
                                  max_deliver=-1, max_ack_pending=-1))

    async def submit(self, job_id: str) -> None:
        """Ask the agents to look at the job (a new, resumed or re-queued one)."""
        await self._js.publish(self.subject, job_id.encode())

    async def next(self, timeout_s: float) -> Msg | None:
        """The next job message, or None when none came within `timeout_s`."""
        try:
            msgs = await self._sub.fetch(1, timeout=timeout_s)
        except TimeoutError:
            return None
        return msgs[0] if msgs else None

    async def pending(self) -> int:
        """Messages waiting for an agent (queue depth)."""
        info = await self._sub.consumer_info()
        return info.num_pending + info.num_ack_pending

    async def close(self) -> None:
        # Not drain(): it would wait on a pending fetch; every publish was acknowledged already.
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
