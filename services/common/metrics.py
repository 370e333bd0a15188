"""Prometheus metrics of the four services: every metric name and its labels live here.

Each server has a registry of its own (several servers share one test process) holding the
gRPC metrics every service has; a service adds its own group (`DatasetMetrics`, ...) to the
same registry. `serve_metrics` answers scrapes on a port of the process's own. The gateway's
HTTP metrics are in gateway/metrics.py; docs/operations.md lists them all.
"""

import logging
from contextlib import AsyncExitStack

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from services.common.events import DatasetInvalid, DatasetValidated, Event

log = logging.getLogger(__name__)

# Spans a health check (ms) to a long generation or upload (minutes), as the gateway's do.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# Names as scraped (a counter's `_total` is added by prometheus-client).
GRPC_HANDLED = "tuneforge_grpc_server_handled_total"
GRPC_HANDLING = "tuneforge_grpc_server_handling_seconds"
GRPC_IN_FLIGHT = "tuneforge_grpc_server_in_flight"
EVENTS_PUBLISHED = "tuneforge_events_published_total"
DATASET_FILES_PROCESSED = "tuneforge_dataset_files_processed_total"
TRAINING_JOBS = "tuneforge_training_jobs"
TRAINING_TOKENS = "tuneforge_training_tokens_total"
INFERENCE_GENERATED_TOKENS = "tuneforge_inference_generated_tokens_total"
INFERENCE_PROMPT_TOKENS = "tuneforge_inference_prompt_tokens_total"
INFERENCE_TTFT = "tuneforge_inference_time_to_first_token_seconds"
INFERENCE_RUNNING = "tuneforge_inference_requests_running"

# Every job status of training.proto, so each has a series (0 included) from the start.
JOB_STATUSES = ("validating_files", "queued", "running", "paused", "succeeded", "failed",
                "cancelled")


def _counter(name: str, doc: str, labels: tuple[str, ...], registry) -> Counter:
    return Counter(name.removesuffix("_total"), doc, labels, registry=registry)


class ServiceMetrics:
    """The metrics every service has: gRPC calls by method and code, events published."""

    def __init__(self, service: str):
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.handled = _counter(GRPC_HANDLED, "RPCs completed, by method and gRPC status code.",
                                ("service", "method", "code"), r)
        self.handling = Histogram(GRPC_HANDLING, "Time from an RPC's start to its status "
                                  "(a stream's last message).", ("service", "method"),
                                  buckets=BUCKETS, registry=r)
        self.in_flight = Gauge(GRPC_IN_FLIGHT, "RPCs being handled now.", ("service",),
                               registry=r)
        self.events = _counter(EVENTS_PUBLISHED, "Lifecycle events published, by type.",
                               ("type",), r)

    def on_event(self, event: Event) -> None:
        """EventBus observer: count a published event."""
        self.events.labels(event.subject_suffix).inc()


class DatasetMetrics:
    """Files whose validation finished, by outcome (validated or invalid)."""

    def __init__(self, registry: CollectorRegistry):
        self.files_processed = _counter(DATASET_FILES_PROCESSED,
                                        "Uploaded files checked, by outcome.", ("outcome",),
                                        registry)
        for outcome in self._OUTCOMES.values():
            self.files_processed.labels(outcome)

    _OUTCOMES = {DatasetValidated: "validated", DatasetInvalid: "invalid"}

    def on_event(self, event: Event) -> None:
        """EventBus observer: a file's validation ended with this event."""
        if outcome := self._OUTCOMES.get(type(event)):
            self.files_processed.labels(outcome).inc()


class TrainingMetrics:
    """Jobs by status (the queue depth is status=queued) and tokens trained."""

    def __init__(self, registry: CollectorRegistry):
        self.jobs = Gauge(TRAINING_JOBS, "Fine-tuning jobs by status.", ("status",),
                          registry=registry)
        self.tokens = _counter(TRAINING_TOKENS, "Tokens trained on, over all jobs.", (),
                               registry)
        for status in JOB_STATUSES:
            self.jobs.labels(status)

    def set_job_counts(self, counts: dict[str, int]) -> None:
        """Replace the gauge's values; statuses missing from `counts` read 0."""
        for status in {*JOB_STATUSES, *counts}:
            self.jobs.labels(status).set(counts.get(status, 0))


class InferenceMetrics:
    """Tokens in and out, time to first token and running requests, by requested model."""

    def __init__(self, registry: CollectorRegistry):
        self.generated_tokens = _counter(INFERENCE_GENERATED_TOKENS, "Completion tokens "
                                         "generated.", ("model",), registry)
        self.prompt_tokens = _counter(INFERENCE_PROMPT_TOKENS, "Prompt tokens processed.",
                                      ("model",), registry)
        self.ttft = Histogram(INFERENCE_TTFT, "Time from a request to its first token.",
                              ("model",), buckets=TTFT_BUCKETS, registry=registry)
        self.running = Gauge(INFERENCE_RUNNING, "Generations in progress.", ("model",),
                             registry=registry)


def serve_metrics(stack: AsyncExitStack, registry: CollectorRegistry, host: str,
                  port: int) -> None:
    """Answer scrapes of `registry` on http://host:port/metrics until `stack` closes."""
    try:
        httpd, thread = start_http_server(port, host, registry)
    except OSError as e:
        raise OSError(f"cannot serve metrics on {host}:{port} (metrics_port): {e}") from e

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)

    stack.callback(stop)
    log.info("metrics on http://%s:%d/metrics", host, port)
