"""TrainJobClient against a fake Kubernetes API server: the real `kubernetes` client code runs,
from reading a kubeconfig to the HTTP requests it sends."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from services.common.errors import TuneForgeError
from services.training.multinode import ClusterSettings, TrainJobClient, trainjob_state
from services.training.multinode.trainjob import trainjob_manifest

pytest.importorskip("kubernetes", reason="the k8s extra is not installed")

NS = "tuneforge"
JOBS = f"/apis/trainer.kubeflow.org/v1alpha1/namespaces/{NS}/trainjobs"
JOB = "ftjob-0193ab12cd3f1e2d3c4b5a"


class FakeApiServer:
    """Answers from a table of (method, path) -> (status, JSON body or text); records requests."""

    def __init__(self):
        self.routes: dict[tuple[str, str], tuple[int, object]] = {}
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append({
                    "method": self.command, "path": url.path, "query": parse_qs(url.query),
                    "auth": self.headers.get("Authorization"),
                    "body": json.loads(body) if body else None})
                status, answer = fake.routes.get((self.command, url.path), (404, {
                    "kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "NotFound", "code": 404}))
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(answer, str)
                                 else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    server = FakeApiServer()
    yield server
    server.close()


@pytest.fixture
def client(api, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "fake", "cluster": {"server": api.url}}],
        "users": [{"name": "training", "user": {"token": "sa-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "fake", "user": "training"}}]}))
    c = TrainJobClient.connect(ClusterSettings(backend="kubernetes", kubeconfig=kubeconfig))
    yield c
    c.close()


def manifest() -> dict:
    cluster = ClusterSettings(backend="kubernetes", namespace=NS)
    return trainjob_manifest(JOB, NS, 2, 8, Path("/jobs") / JOB / "run.json", cluster,
                             {"PYTHONUNBUFFERED": "1"})


def test_create_posts_the_trainjob_to_its_namespace_as_the_service_account(api, client):
    api.routes[("POST", JOBS)] = (201, {**manifest(), "metadata": {
        **manifest()["metadata"], "uid": "u-1"}})
    created = client.create(manifest())
    assert created["metadata"]["uid"] == "u-1"
    [request] = api.requests
    assert (request["method"], request["path"]) == ("POST", JOBS)
    assert request["body"] == manifest()
    assert request["auth"] == "Bearer sa-token"


def test_creating_a_trainjob_that_exists_returns_it(api, client):
    api.routes[("POST", JOBS)] = (409, {"kind": "Status", "reason": "AlreadyExists",
                                        "code": 409})
    existing = {**manifest(), "status": {"conditions": [{"type": "Complete",
                                                         "status": "True"}]}}
    api.routes[("GET", f"{JOBS}/{JOB}")] = (200, existing)
    assert trainjob_state(client.create(manifest())) == ("succeeded", "Complete")
    assert [(r["method"], r["path"]) for r in api.requests] == [
        ("POST", JOBS), ("GET", f"{JOBS}/{JOB}")]


@pytest.mark.parametrize("status, hint", [
    (403, "does the training service's service account have the Role"),
    (404, "is Kubeflow Trainer installed, with its TrainJob CRD?"),
])
def test_refused_create_says_what_to_check(api, client, status, hint):
    api.routes[("POST", JOBS)] = (status, {"kind": "Status", "code": status})
    with pytest.raises(TuneForgeError) as e:
        client.create(manifest())
    assert e.value.code == "unavailable"
    assert e.value.message.startswith(f"Kubernetes API: creating TrainJob {NS}/{JOB} failed "
                                      f"with {status}")
    assert hint in e.value.message


def test_get_and_delete_of_a_missing_trainjob(api, client):
    assert client.get(NS, JOB) is None
    assert client.delete(NS, JOB) is False


def test_delete_lets_the_garbage_collector_remove_the_pods(api, client):
    api.routes[("DELETE", f"{JOBS}/{JOB}")] = (200, {"kind": "Status", "status": "Success"})
    assert client.delete(NS, JOB) is True
    [request] = api.requests
    assert request["query"]["propagationPolicy"] == ["Background"]


def test_rank0_log_is_followed_line_by_line(api, client):
    pods = f"/api/v1/namespaces/{NS}/pods"
    api.routes[("GET", pods)] = (200, {"kind": "PodList", "apiVersion": "v1", "items": [
        {"metadata": {"name": f"{JOB}-node-0-0-x7k2p"}}]})
    log = '{"type": "metrics", "step": 1}\nnot protocol\n{"type": "result"}'
    api.routes[("GET", f"{pods}/{JOB}-node-0-0-x7k2p/log")] = (200, log)
    pod = client.rank0_pod(NS, JOB)
    assert pod == f"{JOB}-node-0-0-x7k2p"
    assert api.requests[0]["query"]["labelSelector"] == [
        f"jobset.sigs.k8s.io/jobset-name={JOB},batch.kubernetes.io/job-completion-index=0"]
    assert list(client.follow_log(NS, pod)) == [
        '{"type": "metrics", "step": 1}', "not protocol", '{"type": "result"}']
    # The client writes Python's True; the API server parses it as Go's ParseBool does.
    assert [v.lower() for v in api.requests[1]["query"]["follow"]] == ["true"]


def test_no_rank0_pod_before_the_jobset_made_it(api, client):
    api.routes[("GET", f"/api/v1/namespaces/{NS}/pods")] = (200, {"kind": "PodList",
                                                                  "items": []})
    assert client.rank0_pod(NS, JOB) is None
