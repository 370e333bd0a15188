"""Local copies of models' files from the artifact store, downloaded once and reused."""

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

from services.common.artifacts import ArtifactNotFound, ArtifactStore

MANIFEST = ".tuneforge-manifest.json"  # keys and sizes of a complete download


class ModelCache:
    """One folder per model under `root`; blocking (call it from a thread)."""

    def __init__(self, artifacts: ArtifactStore, root: Path):
        self.artifacts, self.root = artifacts, Path(root)

    def fetch(self, model: str, artifact_prefix: str) -> Path:
        """The model's files on local disk, downloaded unless an identical copy is there."""
        prefix = artifact_prefix.rstrip("/") + "/"
        manifest = {o.key[len(prefix):]: o.size for o in self.artifacts.list(prefix)}
        if not manifest:
            raise ArtifactNotFound(prefix)
        target = self.root / _folder_name(model)
        marker = target / MANIFEST
        # Keys and sizes suffice: a registered model's files do not change under its name.
        if marker.is_file() and json.loads(marker.read_text()) == manifest:
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        # Download beside the target and rename, so a crash never leaves half a model there.
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".download-"))
        try:
            self.artifacts.get_dir(prefix, tmp)
            (tmp / MANIFEST).write_text(json.dumps(manifest))
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


def _folder_name(model: str) -> str:
    # Model names may hold ':' and '/'; the hash keeps two names that sanitise alike apart.
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", model)
    return f"{safe}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"
