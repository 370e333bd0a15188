"""Container health check: exit 0 when a process answers, 1 with the reason on stderr otherwise.

    python -m services.common.healthcheck HOST:PORT [SERVICE]   # gRPC grpc.health.v1 Check
    python -m services.common.healthcheck http://HOST:PORT/PATH # HTTP, must answer 2xx

Images carry no grpc_health_probe binary; grpcio's health stub does the same job. Kubernetes
uses its native `grpc:` probes instead.
"""

import argparse
import sys
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check_grpc(address: str, service: str = "", timeout_s: float = 3.0) -> str | None:
    """None when `service` at `address` reports SERVING, else what is wrong."""
    with grpc.insecure_channel(address) as ch:
        try:
            r = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return f"{address} does not know service {service!r}"
            return f"{address} unreachable: {e.code().name}: {e.details()}"
    if r.status != health_pb2.HealthCheckResponse.SERVING:
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
        return f"{service or 'server'} at {address} is {status}"
    return None


def check_http(url: str, timeout_s: float = 3.0) -> str | None:
    """None when `url` answers with a 2xx status, else what is wrong."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s):  # noqa: S310 - a fixed local URL
            return None
    except urllib.error.HTTPError as e:
        return f"{url} answered {e.code}: {e.read(500).decode('utf-8', 'replace')}"
    except (urllib.error.URLError, OSError) as e:
        return f"{url} unreachable: {getattr(e, 'reason', e)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.healthcheck",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("target", help="HOST:PORT of a gRPC server, or an http(s):// URL")
    parser.add_argument("service", nargs="?", default="",
                        help="gRPC health service name (default: the whole server)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    args = parser.parse_args(argv)
    if args.target.startswith(("http://", "https://")):
        if args.service:
            parser.error("a service name only goes with a gRPC HOST:PORT target")
        problem = check_http(args.target, args.timeout)
    else:
        problem = check_grpc(args.target, args.service, args.timeout)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
