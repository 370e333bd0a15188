"""An HTTP server run as a child process: started on a free port, health-checked, stopped."""

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Callable

import httpx

log = logging.getLogger(__name__)


class ManagedServer:
    """Spawns `args(port)` and waits until GET /health answers 200."""

    def __init__(self, args: Callable[[int], list[str]], env: dict[str, str], name: str):
        self.args, self.env, self.name = args, env, name
        self.proc: asyncio.subprocess.Process | None = None
        self._tail: deque[str] = deque(maxlen=40)  # last output lines, for the failure reason
        self._reader: asyncio.Task | None = None

    async def start(self, timeout_s: float) -> str:
        """Start the process; its base URL once healthy, or RuntimeError with its last output."""
        port = _free_port()
        args = self.args(port)
        log.info("starting %s: %s", self.name, " ".join(args))
        self.proc = await asyncio.create_subprocess_exec(
            *args, env=self.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.create_task(self._read_output())
        url = f"http://127.0.0.1:{port}"
        try:
            async with asyncio.timeout(timeout_s), httpx.AsyncClient(base_url=url) as client:
                while True:
                    if self.proc.returncode is not None:
                        await asyncio.wait_for(asyncio.shield(self._reader), 5)
                        raise RuntimeError(f"{self.name} exited with code "
                                           f"{self.proc.returncode}: {self.output()}")
                    try:
                        if (await client.get("/health", timeout=2)).status_code == 200:
                            return url
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.2)
        except TimeoutError:
            await self.stop()
            raise RuntimeError(f"{self.name} was not healthy after {timeout_s:.0f} s: "
                               f"{self.output()}") from None
        except BaseException:
            await self.stop()
            raise

    def output(self) -> str:
        return " | ".join(self._tail) or "(no output)"

    async def _read_output(self) -> None:
        async for line in self.proc.stdout:
            text = line.decode(errors="replace").rstrip()
            self._tail.append(text)
            log.debug("%s: %s", self.name, text)

    async def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `grace_s`."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), grace_s)
            except TimeoutError:
                log.warning("%s did not stop in %.0f s; killing it", self.name, grace_s)
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
