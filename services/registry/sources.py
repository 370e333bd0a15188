"""Copying a model into the artifact store from a local directory, S3/MinIO or a model hub."""

import tempfile
from pathlib import Path

from minio import Minio
from minio.error import S3Error

from services.common.artifacts import ArtifactStore
from services.common.errors import TuneForgeError, invalid
from services.registry.settings import RegistrySettings

# What a hub download keeps: weights in safetensors, configs, tokenizer, template.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken"]


def copy_from_source(source: str, artifacts: ArtifactStore, prefix: str,
                     settings: RegistrySettings) -> int:
    """Copy every file of the model at `source` under `prefix` (blocking); returns the count."""
    if source.startswith("s3://"):
        return _copy_s3(source, artifacts, prefix, settings)
    if source.startswith("hf://"):
        return _copy_hub(source, artifacts, prefix, settings)
    path = Path(source.removeprefix("file://"))
    if not path.is_absolute():
        raise invalid(f"source '{source}' must be an absolute directory, s3://bucket/prefix or "
                      "hf://org/name.", "source")
    return _copy_dir(_allowed_dir(path, settings), artifacts, prefix)


def _allowed_dir(path: Path, settings: RegistrySettings) -> Path:
    resolved = path.resolve()
    roots = [r.resolve() for r in settings.import_dirs]
    if not any(resolved.is_relative_to(root) for root in roots):
        raise TuneForgeError(
            "permission_denied", f"source '{path}' is outside the directories models may be "
            f"registered from ({', '.join(map(str, roots))}; TUNEFORGE_REGISTRY_IMPORT_DIRS).",
            "source")
    if not resolved.is_dir():
        raise invalid(f"source '{path}' is not a directory on the registry's host.", "source")
    return resolved


def _copy_dir(folder: Path, artifacts: ArtifactStore, prefix: str) -> int:
    # Hidden entries (.git, .cache of a hub download) are not part of the model.
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise invalid(f"source '{folder}' holds no files.", "source")
    for p in files:
        artifacts.put_file(f"{prefix}/{p.relative_to(folder).as_posix()}", p)
    return len(files)


def _copy_s3(source: str, artifacts: ArtifactStore, prefix: str,
             settings: RegistrySettings) -> int:
    bucket, _, folder = source.removeprefix("s3://").partition("/")
    folder = folder.strip("/")
    if not bucket or not folder:
        raise invalid(f"source '{source}' must look like s3://bucket/prefix.", "source")
    client = Minio(settings.s3_endpoint, access_key=settings.s3_access_key,
                   secret_key=settings.s3_secret_key.get_secret_value(),
                   secure=settings.s3_secure, region=settings.s3_region)
    try:
        objects = [o for o in client.list_objects(bucket, prefix=folder + "/", recursive=True)
                   if not o.is_dir]
        for obj in objects:
            resp = client.get_object(bucket, obj.object_name)
            try:
                artifacts.put_stream(f"{prefix}/{obj.object_name[len(folder) + 1:]}", resp,
                                     obj.size)
            finally:
                resp.close()
                resp.release_conn()
    except S3Error as e:
        raise invalid(f"source '{source}' cannot be read from {settings.s3_endpoint}: "
                      f"{e.code}: {e.message}", "source") from None
    if not objects:
        raise invalid(f"source '{source}' holds no files.", "source")
    return len(objects)


def _copy_hub(source: str, artifacts: ArtifactStore, prefix: str,
              settings: RegistrySettings) -> int:
    repo, _, revision = source.removeprefix("hf://").partition("@")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
    except ImportError:
        raise TuneForgeError("unavailable", "Registering from a hub needs the huggingface_hub "
                             "package, which is not installed.", "source") from None
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.scratch_dir) as tmp:
        try:
            folder = snapshot_download(repo, revision=revision or None, local_dir=tmp,
                                       allow_patterns=HUB_PATTERNS)
        except (RepositoryNotFoundError, RevisionNotFoundError) as e:
            raise invalid(f"source '{source}' is not on the hub: {e}", "source") from None
        except Exception as e:  # noqa: BLE001 - no network, no access: the hub is unreachable
            raise TuneForgeError("unavailable", f"source '{source}' cannot be downloaded from "
                                 f"the hub: {type(e).__name__}: {e}", "source") from None
        return _copy_dir(Path(folder), artifacts, prefix)
