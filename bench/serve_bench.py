"""Serving benchmark: continuous batching against `generate` one request at a time, and what
the gateway adds over calling the inference service directly.

    .venv/bin/python -m bench.serve_bench [--model-dir var/models/tiny-qwen2] [--device cpu]

Starts NATS, the registry, the inference service and the gateway as processes on free ports,
deploys the model, then sweeps concurrency (1, 4, 16) for three clients in the same run:
`baseline` (transformers `generate`, one request at a time, in this process), `inference` (the
service's gRPC API) and `gateway` (the OpenAI API, streaming, with a project's API key, so
authentication and ownership checks are in the numbers). Prints markdown tables.

The gateway's overhead is measured apart: one-token requests, the same ones direct and
through the gateway, interleaved one at a time, compared by p50 latency on the client's
clock. Through the gateway twice: with a lean HTTP client (what the gateway adds) and with
httpx, the openai SDK's transport (what a Python client sees, its own parsing included). The
CPU time each client and the gateway process spend per request is printed beside them, as
it is what a shared host turns into latency.
"""

import argparse
import asyncio
import os
import shutil
import statistics
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import torch

from bench.serve_clients import Baseline, Direct, Gateway, GatewayHttpx, Sample
from services.registry.tiny_model import build_tiny_model
from tests.support import free_port, nats_server_binary, wait_for_port

PROMPTS = ["Who are you?", "Write a short poem about the sea.", "What is fine-tuning?",
           "你是谁", "Explain continuous batching in one sentence.", "List three colours."]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summarize(samples: list[Sample], wall_s: float) -> dict:
    ttft = [s.ttft_s * 1000 for s in samples]
    lat = [s.latency_s * 1000 for s in samples]
    return {"tok_s": sum(s.tokens for s in samples) / wall_s,
            "ttft_p50": percentile(ttft, 50), "ttft_p99": percentile(ttft, 99),
            "lat_p50": percentile(lat, 50), "lat_p99": percentile(lat, 99)}


async def sweep(request, concurrency: int, rounds: int, max_tokens: int) -> dict:
    """`rounds` requests per client slot, `concurrency` clients sending back to back."""
    samples: list[Sample] = []

    async def client(slot: int) -> None:
        for r in range(rounds):
            messages = [{"role": "user", "content": PROMPTS[(slot + r) % len(PROMPTS)]}]
            samples.append(await request(messages, max_tokens))

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return summarize(samples, time.perf_counter() - started)


@dataclass
class Overhead:
    """p50 latency (ms) of one-token requests per client, and CPU ms per request."""

    direct: float
    gateway: float
    httpx: float
    gateway_cpu: float
    client_cpu: dict[str, float]

    def report(self, n: int) -> str:
        c = self.client_cpu
        return (f"Gateway overhead, p50 of {n} one-token requests with a project key, direct "
                f"and through the gateway interleaved: direct {self.direct:.2f} ms; through "
                f"the gateway {self.gateway:.2f} ms (added {self.gateway - self.direct:.2f} ms) "
                f"with a lean HTTP client, {self.httpx:.2f} ms (added "
                f"{self.httpx - self.direct:.2f} ms) with httpx. The gateway process spent "
                f"{self.gateway_cpu:.2f} ms of CPU per request; the clients "
                f"{c['direct']:.2f} (gRPC), {c['gateway']:.2f} (lean HTTP) and "
                f"{c['httpx']:.2f} (httpx) ms.")


async def overhead(direct: Direct, gateway: Gateway, httpx_gateway: GatewayHttpx, model: str,
                   n: int, gateway_pid: int) -> Overhead:
    """The three clients in turn, one request each per round, so that load on the host
    weighs on all alike; the gateway's CPU is counted on its lean-client requests."""
    messages = [{"role": "user", "content": "hi"}]
    clients = {"direct": direct, "gateway": gateway, "httpx": httpx_gateway}
    latency: dict[str, list[float]] = {name: [] for name in clients}
    client_cpu = dict.fromkeys(clients, 0.0)
    gateway_cpu = 0.0
    for _ in range(n):
        for name, client in clients.items():
            before, own = cpu_seconds(gateway_pid), time.process_time()
            latency[name].append((await client.request(model, messages, 1)).latency_s * 1000)
            client_cpu[name] += time.process_time() - own
            if name == "gateway":
                gateway_cpu += cpu_seconds(gateway_pid) - before
    p50 = {name: statistics.median(v) for name, v in latency.items()}
    return Overhead(p50["direct"], p50["gateway"], p50["httpx"], gateway_cpu / n * 1000,
                    {name: t / n * 1000 for name, t in client_cpu.items()})


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Platform:
    """NATS, registry, inference and gateway as child processes of this benchmark."""

    def __init__(self, model_dir: Path, device: str, root: Path, threads: int = 0):
        self.root, self.procs = root, []
        ports = {k: free_port() for k in ("nats", "registry", "inference", "gateway")}
        self.inference_addr = f"127.0.0.1:{ports['inference']}"
        self.url = f"http://127.0.0.1:{ports['gateway']}"
        self.admin_key = "tf-bench-admin-" + secrets.token_hex(16)
        self.env = {**os.environ, "TUNEFORGE_DATA_DIR": str(root / "data"),
                    "TUNEFORGE_ADMIN_KEY": self.admin_key,
                    "TUNEFORGE_NATS_URL": f"nats://127.0.0.1:{ports['nats']}",
                    "TUNEFORGE_REGISTRY_BASE_MODELS_DIR": str(model_dir.parent),
                    "TUNEFORGE_REGISTRY_ADDR": f"127.0.0.1:{ports['registry']}",
                    "TUNEFORGE_INFERENCE_ADDR": self.inference_addr,
                    "TUNEFORGE_INFERENCE_DEVICE": device,
                    "TUNEFORGE_INFERENCE_TORCH_THREADS": str(threads),
                    # Off: a platform running beside the benchmark holds the default ports.
                    "TUNEFORGE_REGISTRY_METRICS_PORT": "0", "TUNEFORGE_INFERENCE_METRICS_PORT": "0",
                    "TUNEFORGE_GATEWAY_PORT": str(ports["gateway"]),
                    # The benchmark is one client: the per-key limits would throttle it.
                    "TUNEFORGE_GATEWAY_MAX_CONCURRENT_GENERATIONS": "1024",
                    "TUNEFORGE_GATEWAY_RATE_LIMIT_PER_MINUTE": "1000000",
                    "TUNEFORGE_LOG_LEVEL": "WARNING"}
        self.ports = ports

    def start(self) -> None:
        self._spawn("nats", [nats_server_binary(), "-a", "127.0.0.1", "-p",
                             str(self.ports["nats"]), "-js", "-sd", str(self.root / "nats")])
        wait_for_port(self.ports["nats"])
        for name in ("registry", "inference"):
            self._spawn(name, [sys.executable, "-m", f"services.{name}"])
            wait_for_port(self.ports[name], timeout=120, proc=self.procs[-1])
        self._spawn("gateway", [sys.executable, "-m", "gateway"])
        wait_for_port(self.ports["gateway"], timeout=60, proc=self.procs[-1])

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self.procs.append(subprocess.Popen(cmd, env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT))

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.admin_key}"})

    def project_key(self, project: str) -> str:
        """A new project and an API key of it, as a tenant would call the gateway."""
        with self.admin() as http:
            http.post("/v1/admin/projects", json={"id": project}).raise_for_status()
            r = http.post("/v1/admin/keys", json={"project_id": project, "name": "bench"})
            r.raise_for_status()
            return r.json()["key"]

    def deploy(self, model: str, max_concurrent: int) -> None:
        with self.admin() as http:
            deadline = time.monotonic() + 60
            while http.get(f"/v1/models/{model}").status_code != 200:  # registered at start-up
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the registry has no model {model}")
                time.sleep(0.2)
            r = http.post("/v1/deployments", json={"model": model,
                                                   "max_concurrent_requests": max_concurrent})
            r.raise_for_status()
            deadline = time.monotonic() + 600
            while (d := http.get(f"/v1/deployments/{r.json()['id']}").json())["status"] \
                    not in ("ready", "failed"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"deployment not ready: {d}")
                time.sleep(0.2)
            if d["status"] != "ready":
                raise RuntimeError(f"deployment failed: {d['error']}")
        time.sleep(2.5)  # a heartbeat has told the gateway the model is ready

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def table(rows: list[tuple[str, int, dict]], baseline: dict[int, dict]) -> str:
    lines = ["| client | concurrency | output tok/s | × baseline | TTFT p50 ms | TTFT p99 ms "
             "| latency p50 ms | latency p99 ms |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, c, r in rows:
        ratio = r["tok_s"] / baseline[c]["tok_s"]
        lines.append(f"| {name} | {c} | {r['tok_s']:.0f} | {ratio:.2f} | {r['ttft_p50']:.1f} | "
                     f"{r['ttft_p99']:.1f} | {r['lat_p50']:.0f} | {r['lat_p99']:.0f} |")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    model_dir = Path(args.model_dir)
    if not (model_dir / "config.json").exists():
        build_tiny_model(model_dir)
    load_before = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    if args.torch_threads:  # the baseline, in this process, gets what the service gets
        torch.set_num_threads(args.torch_threads)
    platform = Platform(model_dir, args.device, root, args.torch_threads)
    rows: list[tuple[str, int, dict]] = []
    try:
        platform.start()
        platform.deploy(model_dir.name, max(args.concurrency))
        baseline = Baseline(model_dir, "cuda" if args.device.startswith("cuda") else "cpu")
        key = platform.project_key("bench")
        direct, gateway = Direct(platform.inference_addr), Gateway(platform.url, key)
        httpx_gateway = GatewayHttpx(platform.url, key)
        clients = {
            "baseline (generate, one at a time)": baseline.request,
            "inference service (gRPC)":
                lambda m, n: direct.request(model_dir.name, m, n),
            "gateway (OpenAI API, SSE)": lambda m, n: gateway.request(model_dir.name, m, n),
        }
        for request in (*clients.values(),  # warm-up: lazy initialisation out of the numbers
                        lambda m, n: httpx_gateway.request(model_dir.name, m, n)):
            await sweep(request, 2, 1, 4)
        base: dict[int, dict] = {}
        for c in args.concurrency:
            for name, request in clients.items():
                r = await sweep(request, c, args.rounds, args.max_tokens)
                rows.append((name, c, r))
                base.setdefault(c, r)
                print(f"  {name:38} c={c:<3} {r['tok_s']:7.0f} tok/s", file=sys.stderr)
        cost = await overhead(direct, gateway, httpx_gateway, model_dir.name,
                              args.overhead_requests, platform.procs[-1].pid)
        for client in (direct, gateway, httpx_gateway):
            await client.close()
    finally:
        platform.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{model_dir.name} on {args.device} ({args.torch_threads or 'default'} torch "
          f"threads), {args.max_tokens} output tokens per request (greedy), {args.rounds} "
          f"requests per concurrent client\n")
    print(table(rows, base))
    print("\n" + cost.report(args.overhead_requests))
    print(f"Load average of the host during the run: {load_before:.2f} -> "
          f"{os.getloadavg()[0]:.2f} (other processes compete for its {os.cpu_count()} cores)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", default="var/models/tiny-qwen2")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--rounds", type=int, default=4, help="requests per concurrent client")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--overhead-requests", type=int, default=200)
    # One thread each by default: on a small host shared by the benchmark client, the gateway
    # and other work, torch's one-thread-per-core OpenMP pool stalls on descheduled threads.
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch CPU threads of the engine and of the baseline; 0: torch default")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
