"""Starting the ranks as one process group, reading their output, and ending all of them."""

import asyncio
import collections
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

# Rank output lines can be long (a traceback, a metrics line); the default limit is 64 KiB.
LINE_LIMIT = 4 * 1024 * 1024


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies waiting to be reaped do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # Fields after the parenthesised command: state, ppid, pgrp, ...
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def kill_leftover_group(pid_file: Path, marker: str) -> bool:
    """SIGKILL the group recorded in `pid_file` if its leader still runs a command naming `marker`.

    Ranks live in their own session, so they outlive a training service that was killed; the
    command-line check keeps a recycled pid from taking an unrelated group down.
    """
    try:
        pgid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pgid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return False
    if marker not in cmdline or not group_alive(pgid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    return True


class RankProcess:
    """torchrun and its ranks in a process group of their own, so one signal reaches them all."""

    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path, tail_lines: int = 40):
        self.proc, self.pgid = proc, proc.pid
        self.log = open(log_path, "a", encoding="utf-8", buffering=1)
        self.tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._stderr = asyncio.create_task(self._pump_stderr())

    @classmethod
    async def start(cls, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path,
                    pid_file: Path) -> "RankProcess":
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, limit=LINE_LIMIT,
        )
        pid_file.write_text(str(proc.pid))
        return cls(proc, log_path)

    def write_log(self, line: str) -> None:
        """Keep a line that is not part of the protocol: in the log, and in the tail."""
        self.log.write(line + "\n")
        if line.strip():
            self.tail.append(line)

    async def _pump_stderr(self) -> None:
        async for raw in self.proc.stderr:
            self.write_log(raw.decode("utf-8", "replace").rstrip())

    async def stdout_lines(self) -> AsyncIterator[str]:
        async for raw in self.proc.stdout:
            yield raw.decode("utf-8", "replace").rstrip("\n")

    async def wait(self) -> int:
        """Exit code of torchrun, once its output is read to the end."""
        code = await self.proc.wait()
        await self._stderr
        return code

    def close(self) -> None:
        """Release the log file and the stderr reader."""
        self._stderr.cancel()
        self.log.close()

    async def terminate(self, grace_s: float) -> None:
        """SIGTERM the whole group, SIGKILL what is left after `grace_s`; returns when none runs."""
        self._signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while group_alive(self.pgid) and loop.time() < deadline:
            await asyncio.sleep(0.1)
        if group_alive(self.pgid):
            self._signal(signal.SIGKILL)
            while group_alive(self.pgid):
                await asyncio.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            await asyncio.wait_for(self.proc.wait(), grace_s)

    async def ensure_stopped(self, grace_s: float) -> None:
        """Terminate what is left of the group, if anything."""
        if group_alive(self.pgid):
            await self.terminate(grace_s)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, sig)
