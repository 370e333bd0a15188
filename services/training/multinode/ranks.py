"""A multi-node run seen as the runner sees one host's ranks: lines of rank 0, an exit code,
and a way to stop every rank (see launcher.RankProcess for the one-host case)."""

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from services.training.launcher import RankProcess
from services.training.multinode.kube import TrainJobClient
from services.training.multinode.plan import LaunchPlan
from services.training.multinode.trainjob import trainjob_state

POLL_S = 2.0


class HostRanks:
    """The launcher processes of a hostfile job: DeepSpeed's runner, or one ssh per node.

    The first process carries rank 0's protocol on stdout; the others' output goes to the log.
    """

    def __init__(self, procs: list[RankProcess]):
        self.procs = procs
        self.primary = procs[0]
        self.tail, self.pgid = self.primary.tail, self.primary.pgid
        self._drains = [asyncio.create_task(self._drain(p)) for p in procs[1:]]

    @classmethod
    async def start(cls, plan: LaunchPlan, env: dict[str, str], cwd: Path, log_path: Path,
                    pid_file: Path) -> "HostRanks":
        for path, text in plan.files.items():
            path.write_text(text, encoding="utf-8")
        procs = [await RankProcess.start(argv, {**env, **plan.env}, cwd, log_path,
                                         pid_file if i == 0 else pid_file.with_suffix(f".{i}"))
                 for i, argv in enumerate(plan.processes)]
        return cls(procs)

    async def _drain(self, proc: RankProcess) -> None:
        async for line in proc.stdout_lines():
            proc.write_log(line)

    def write_log(self, line: str) -> None:
        self.primary.write_log(line)

    def stdout_lines(self) -> AsyncIterator[str]:
        return self.primary.stdout_lines()

    async def wait(self) -> int:
        codes = [await p.wait() for p in self.procs]
        await asyncio.gather(*self._drains, return_exceptions=True)
        return next((c for c in codes if c), 0)

    async def terminate(self, grace_s: float) -> None:
        await asyncio.gather(*(p.terminate(grace_s) for p in self.procs))

    async def ensure_stopped(self, grace_s: float) -> None:
        await asyncio.gather(*(p.ensure_stopped(grace_s) for p in self.procs))

    def close(self) -> None:
        for task in self._drains:
            task.cancel()
        for p in self.procs:
            p.close()


class TrainJobRanks:
    """A Kubeflow Trainer TrainJob: rank 0's pod log is the protocol, its conditions the end."""

    def __init__(self, client: TrainJobClient, manifest: dict, log_path: Path):
        self.client = client
        self.namespace = manifest["metadata"]["namespace"]
        self.name = manifest["metadata"]["name"]
        self.log = open(log_path, "a", encoding="utf-8", buffering=1)
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.pgid = None

    @classmethod
    async def start(cls, client: TrainJobClient, manifest: dict,
                    log_path: Path) -> "TrainJobRanks":
        await asyncio.to_thread(client.create, manifest)
        return cls(client, manifest, log_path)

    def write_log(self, line: str) -> None:
        self.log.write(line + "\n")
        if line.strip():
            self.tail.append(line)

    async def _state(self) -> tuple[str, str]:
        obj = await asyncio.to_thread(self.client.get, self.namespace, self.name)
        return trainjob_state(obj) if obj else ("failed", "the TrainJob was deleted")

    async def stdout_lines(self) -> AsyncIterator[str]:
        pod = None
        while pod is None:
            pod = await asyncio.to_thread(self.client.rank0_pod, self.namespace, self.name)
            if pod is None:
                if (await self._state())[0] != "running":
                    return
                await asyncio.sleep(POLL_S)
        loop, lines = asyncio.get_running_loop(), asyncio.Queue()

        def pump() -> None:
            try:
                for line in self.client.follow_log(self.namespace, pod):
                    loop.call_soon_threadsafe(lines.put_nowait, line)
            finally:
                loop.call_soon_threadsafe(lines.put_nowait, None)

        reader = asyncio.create_task(asyncio.to_thread(pump))
        while (line := await lines.get()) is not None:
            yield line
        await reader

    async def wait(self) -> int:
        while (state := await self._state())[0] == "running":
            await asyncio.sleep(POLL_S)
        if state[0] != "succeeded":
            self.write_log(f"TrainJob {self.namespace}/{self.name} {state[0]}: {state[1]}")
            return 1
        return 0

    async def terminate(self, grace_s: float) -> None:
        await asyncio.to_thread(self.client.delete, self.namespace, self.name)

    async def ensure_stopped(self, grace_s: float) -> None:
        if (await self._state())[0] == "running":
            await self.terminate(grace_s)

    def close(self) -> None:
        self.log.close()
        with contextlib.suppress(Exception):
            self.client.close()
