"""Small fakes of the training service's seams: dataset and registry clients, runner, event bus."""

from services.common.errors import TuneForgeError
from tuneforge.v1 import dataset_pb2, registry_pb2


class FakeDataset:
    def __init__(self, *files: dataset_pb2.File):
        self.files = {f.id: f for f in files}

    async def get_file(self, file_id: str) -> dataset_pb2.File:
        if file_id not in self.files:
            raise TuneForgeError("not_found", f"No file found with id '{file_id}'.", "id")
        return self.files[file_id]


class FakeRegistry:
    def __init__(self, *models: registry_pb2.Model):
        self.models = {m.id: m for m in models}
        self.registered: list[registry_pb2.RegisterModelRequest] = []

    async def get_model(self, model_id: str) -> registry_pb2.Model:
        if model_id not in self.models:
            raise TuneForgeError("model_not_found", f"The model '{model_id}' does not exist.",
                                 "model")
        return self.models[model_id]

    async def register_model(self, request):
        self.registered.append(request)
        return registry_pb2.Model(id=request.id, kind=request.kind, parent=request.parent)


class FakeRunner:
    def __init__(self):
        self.stopped = []

    async def stop(self, job_id: str) -> None:
        self.stopped.append(job_id)


class FakeQueue:
    def __init__(self):
        self.submitted: list[str] = []

    async def submit(self, job_id: str) -> None:
        self.submitted.append(job_id)


class FakeBus:
    def __init__(self):
        self.published = []

    async def publish(self, event) -> None:
        self.published.append(event)
