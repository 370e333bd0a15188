"""Run the whole platform on one machine: NATS, the four services and the gateway.

`make run` calls `main()`; the end-to-end tests use `LocalStack` with free ports. Each piece is
its own process, as in a real deployment; Ctrl-C stops them all, gateway first.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.console import Console

from gateway.settings import GatewaySettings

console = Console(stderr=True)
SERVICES = ("registry", "dataset", "training", "inference")


@dataclass
class LocalStack:
    """The processes of a local platform, configured through TUNEFORGE_* variables."""

    env: dict[str, str] = field(default_factory=dict)  # overrides on top of os.environ
    log_dir: Path | None = None  # None: children write to this terminal
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self):
        self.full_env = {**os.environ, **self.env}
        self.settings = GatewaySettings(_env_file=None, **_settings_from_env(self.full_env))

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    def start(self, timeout: float = 120.0) -> None:
        try:
            self._check_ports_free()
            self._start_nats()
            for name in SERVICES:
                self._spawn(name, [sys.executable, "-m", f"services.{name}"])
            deadline = time.monotonic() + timeout
            for name in SERVICES:
                self._wait_grpc(name, getattr(self.settings, f"{name}_addr"), deadline)
            self._spawn("gateway", [sys.executable, "-m", "gateway"])
            self._wait_http(f"{self.api_url}/ready", deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM everything, newest first (gateway before services before NATS)."""
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    console.print(f"[yellow]{name} did not stop in 15 s; killing it[/]")
                    proc.kill()
                    proc.wait()
        self.procs.clear()

    # -- pieces ---------------------------------------------------------------------------

    def _ports(self) -> dict[str, tuple[str, int]]:
        out = {"TUNEFORGE_NATS_URL": _host_port(self.settings.nats_url)}
        for name in SERVICES:
            out[f"TUNEFORGE_{name.upper()}_ADDR"] = _host_port(
                getattr(self.settings, f"{name}_addr"))
        out["TUNEFORGE_GATEWAY_PORT"] = (self.settings.host, self.settings.port)
        return out

    def _check_ports_free(self) -> None:
        taken = [f"{var} ({h}:{p})" for var, (h, p) in self._ports().items() if _in_use(h, p)]
        if taken:
            raise RuntimeError("Ports already in use; set other ones: " + ", ".join(taken))

    def _start_nats(self) -> None:
        host, port = _host_port(self.settings.nats_url)
        store = Path(self.settings.data_dir) / "nats"
        store.mkdir(parents=True, exist_ok=True)
        binary = Path(sys.executable).parent / "nats-server"
        self._spawn("nats", [str(binary), "-a", host, "-p", str(port), "-js", "-sd", str(store)])
        deadline = time.monotonic() + 20
        while not _in_use(host, port):
            self._check_alive("nats")
            if time.monotonic() > deadline:
                raise TimeoutError("nats-server did not open its port in 20 s")
            time.sleep(0.05)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(cmd, env=self.full_env, stdout=out,
                                            stderr=subprocess.STDOUT if out else None)

    def _check_alive(self, name: str) -> None:
        code = self.procs[name].poll()
        if code is not None:
            where = f"; see {self.log_dir / (name + '.log')}" if self.log_dir else ""
            raise RuntimeError(f"{name} exited with code {code} during start-up{where}")

    def _wait_grpc(self, name: str, addr: str, deadline: float) -> None:
        with grpc.insecure_channel(addr) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while True:
                self._check_alive(name)
                try:
                    r = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=1)
                    if r.status == health_pb2.HealthCheckResponse.SERVING:
                        console.print(f"[green]✓[/] {name} ready on {addr}")
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not healthy on {addr} in time")
                time.sleep(0.2)

    def _wait_http(self, url: str, deadline: float) -> None:
        while True:
            self._check_alive("gateway")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    console.print(f"[green]✓[/] gateway ready on {self.api_url}")
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"gateway not ready at {url} in time")
            time.sleep(0.2)


def _settings_from_env(env: dict[str, str]) -> dict:
    # GatewaySettings reads os.environ; pass the overrides explicitly by field name.
    out = {}
    for name, f in GatewaySettings.model_fields.items():
        alias = f.validation_alias
        keys = list(alias.choices) if alias is not None else [f"TUNEFORGE_GATEWAY_{name.upper()}"]
        for k in keys:
            if k in env:
                out[name] = env[k]
    return out


def _host_port(addr: str) -> tuple[str, int]:
    u = urlparse(addr if "://" in addr else f"tcp://{addr}")
    return u.hostname or "127.0.0.1", u.port or 0


def _in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _admin_key() -> str:
    """The local stack's admin key: TUNEFORGE_ADMIN_KEY, else the one in var/, else a new one."""
    path = Path(os.environ.get("TUNEFORGE_DATA_DIR", "var")) / "admin_key"
    key = os.environ.get("TUNEFORGE_ADMIN_KEY") or (
        path.read_text().strip() if path.exists() else "tf-admin-" + secrets.token_urlsafe(24))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def main() -> None:
    # Children inherit it: the gateway then requires `Authorization: Bearer <key>`.
    os.environ["TUNEFORGE_ADMIN_KEY"] = key = _admin_key()
    # A terminal reads text better than JSON lines; TUNEFORGE_LOG_FORMAT=json still wins.
    os.environ.setdefault("TUNEFORGE_LOG_FORMAT", "text")
    stack = LocalStack()
    console.print("[bold]Starting TuneForge[/] (NATS, registry, dataset, training, inference, "
                  "gateway)…")
    try:
        stack.start()
    except (RuntimeError, TimeoutError) as e:
        console.print(f"[red]Could not start TuneForge:[/] {e}")
        sys.exit(1)
    url = stack.api_url
    console.print(f"""
[bold green]TuneForge is running.[/]  API: {url}/v1   docs: {url}/docs
Admin key (also in var/admin_key): {key}
Try:  curl {url}/v1/models -H "Authorization: Bearer $(cat var/admin_key)"
Demo: make demo   (in another terminal)
Press Ctrl-C to stop.""")
    stop = []
    # Explicit handlers: a shell that starts us in the background leaves SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(1))
    while not stop:
        for name, proc in stack.procs.items():
            if proc.poll() is not None:
                console.print(f"[red]{name} exited with code {proc.returncode}; stopping.[/]")
                stop.append(1)
                break
        time.sleep(0.5)
    console.print("Stopping…")
    stack.stop()
    console.print("Stopped.")


if __name__ == "__main__":
    main()
