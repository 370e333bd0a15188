"""Multi-node jobs: hostfile checks, the launch commands for 2 nodes x 8 GPUs, the TrainJob.

The commands are read back with DeepSpeed's and torchrun's own argument parsers, so a flag
they do not know, or one that lands in the wrong place, fails here.
"""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.errors import TuneForgeError
from services.training.multinode import (
    ClusterSettings,
    Host,
    HostfileError,
    multinode_launch,
    parse_hostfile,
    problems,
    trainjob_state,
)
from services.training.multinode.hostfile import choose_hosts
from services.training.multinode.kube import resolve_namespace
from services.training.multinode.trainjob import trainjob_name
from services.training.trainer.config import Hyperparameters

JOB = "ftjob-0193ab12cd3f1e2d3c4b5a"
DOC = Path(__file__).resolve().parents[2] / "docs" / "multinode.md"
RUN = Path("/var/lib/tuneforge/training") / JOB / "run.json"
HOSTFILE = """\
# GPU hosts of the team
gpu-a slots=8
gpu-small slots=4   # the old box

gpu-c slots=8
gpu-d slots=8
"""


def hp(num_nodes=2, num_gpus=16, **kw) -> Hyperparameters:
    return Hyperparameters(num_nodes=num_nodes, num_gpus=num_gpus, batch_size=num_gpus, **kw)


@pytest.fixture
def hostfile_cluster(tmp_path) -> ClusterSettings:
    path = tmp_path / "hostfile"
    path.write_text(HOSTFILE)
    return ClusterSettings(backend="hostfile", hostfile=path, ssh_port=2222,
                           ssh_options="-i /keys/id_ed25519", env={"NCCL_SOCKET_IFNAME": "eth0"})


# Hostfile.

def test_hostfile_lists_hosts_in_order_skipping_comments_and_blank_lines():
    assert parse_hostfile(HOSTFILE) == [Host("gpu-a", 8), Host("gpu-small", 4),
                                        Host("gpu-c", 8), Host("gpu-d", 8)]


@pytest.mark.parametrize("text, message", [
    ("gpu-a slots=8\ngpu-b 8\n", "line 2: expected `host slots=N`"),
    ("gpu-a slots=8\ngpu-b slots=eight\n", "line 2: expected `host slots=N`"),
    ("gpu-a slots=0\n", "line 1: slots must be at least 1"),
    ("gpu-a slots=8\n\ngpu-a slots=4\n", "line 3: host gpu-a is listed again (first on line 1)"),
    ("gpu-a;reboot slots=8\n", "line 1: expected `host slots=N` with a host name"),
    ("# nothing yet\n\n", "lists no hosts"),
])
def test_bad_hostfile_is_refused_naming_the_line(text, message):
    with pytest.raises(HostfileError) as e:
        parse_hostfile(text, source="hostfile /etc/tuneforge/hosts")
    assert str(e.value).startswith("hostfile /etc/tuneforge/hosts")
    assert message in str(e.value)


def test_job_takes_the_first_hosts_with_enough_slots():
    hosts = parse_hostfile(HOSTFILE)
    assert choose_hosts(hosts, 2, 8) == [Host("gpu-a", 8), Host("gpu-c", 8)]
    assert choose_hosts(hosts, 3, 4) == [Host("gpu-a", 8), Host("gpu-small", 4),
                                         Host("gpu-c", 8)]
    with pytest.raises(HostfileError, match="4 hosts with at least 8 slots are needed; "
                                            "the hostfile has 3"):
        choose_hosts(hosts, 4, 8)


# Settings and validation.

def test_every_cluster_setting_is_in_the_docs_table():
    table = DOC.read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    for name in ClusterSettings.model_fields:
        assert f"`{name.upper()}`" in table, name


def test_hostfile_backend_without_a_hostfile_is_a_settings_error():
    with pytest.raises(ValidationError, match="hostfile: required when backend is hostfile"):
        ClusterSettings(backend="hostfile")


def test_one_node_jobs_need_no_backend():
    assert problems(hp(num_nodes=1, num_gpus=2), ClusterSettings()) == []


def test_several_nodes_without_a_backend_name_the_setting():
    assert problems(hp(), ClusterSettings()) == [(
        "hyperparameters.num_nodes",
        "needs a multi-node backend; set TUNEFORGE_TRAINING_CLUSTER__BACKEND to hostfile or "
        "kubernetes (got num_nodes=2)")]


@pytest.mark.parametrize("backend", ["hostfile", "kubernetes"])
def test_ranks_must_split_evenly_over_the_nodes(backend, hostfile_cluster):
    cluster = hostfile_cluster.model_copy(update={"backend": backend})
    assert problems(hp(num_nodes=3, num_gpus=16), cluster) == [(
        "hyperparameters.num_gpus",
        "must be a multiple of num_nodes=3, as every node runs the same number of ranks "
        "(got 16)")]


def test_more_nodes_than_the_hostfile_has_big_enough_hosts(hostfile_cluster):
    assert problems(hp(num_nodes=4, num_gpus=32), hostfile_cluster) == [(
        "hyperparameters.num_nodes",
        "must be at most 3, the hosts in the hostfile with at least 8 GPU slots (got 4)")]
    assert problems(hp(num_nodes=4, num_gpus=16), hostfile_cluster) == []


def test_more_ranks_per_node_than_any_host_has_slots(hostfile_cluster):
    assert problems(hp(num_nodes=2, num_gpus=32), hostfile_cluster) == [(
        "hyperparameters.num_gpus",
        "/ num_nodes = 16 ranks per node, more than the 8 GPU slots of the largest host in "
        "the hostfile (got 32)")]


def test_unreadable_hostfile_is_the_operators_error_naming_file_and_line(tmp_path):
    path = tmp_path / "hosts"
    path.write_text("gpu-a slots=8\ngpu-b\n")
    cluster = ClusterSettings(backend="hostfile", hostfile=path)
    with pytest.raises(TuneForgeError) as e:
        problems(hp(), cluster)
    assert e.value.code == "unavailable"
    assert f"hostfile {path} line 2: expected `host slots=N`" in e.value.message
    path.unlink()
    with pytest.raises(TuneForgeError, match=f"hostfile {path}: cannot be read"):
        problems(hp(), cluster)


# DeepSpeed's launcher.

def test_deepspeed_plan_for_two_nodes_of_eight_gpus(hostfile_cluster):
    job_dir = RUN.parent
    plan = multinode_launch(JOB, hp(), RUN, hostfile_cluster, python="/opt/venv/bin/python",
                            env={"OMP_NUM_THREADS": "8"})
    assert plan.processes == [[
        "/opt/venv/bin/python", "-u", "-m", "deepspeed.launcher.runner",
        "--hostfile", f"{job_dir}/hostfile", "--num_nodes", "2", "--num_gpus", "8",
        "--master_addr", "gpu-a", "--master_port", "29500", "--ssh_port", "2222",
        "--launcher", "pdsh", "--launcher_args=-N", "--no_local_rank",
        "--module", "services.training.trainer.run", "--config", str(RUN)]]
    assert plan.env == {"PDSH_SSH_ARGS_APPEND": "-i /keys/id_ed25519"}
    assert plan.files == {
        job_dir / "hostfile": "gpu-a slots=8\ngpu-c slots=8\n",
        job_dir / ".deepspeed_env": "NCCL_SOCKET_IFNAME=eth0\nOMP_NUM_THREADS=8\n"
                                    "PYTHONUNBUFFERED=1\nTOKENIZERS_PARALLELISM=false\n"}
    assert plan.hosts == [Host("gpu-a", 8), Host("gpu-c", 8)] and plan.trainjob is None


def test_deepspeed_reads_the_command_and_hostfile_as_meant(hostfile_cluster):
    from deepspeed.launcher.multinode_runner import PDSHRunner
    from deepspeed.launcher.runner import _parse_hostfile, encode_world_info, parse_args

    plan = multinode_launch(JOB, hp(), RUN, hostfile_cluster, python="python")
    args = parse_args(plan.processes[0][4:])
    assert (args.num_nodes, args.num_gpus, args.master_addr, args.master_port) == (
        2, 8, "gpu-a", 29500)
    assert args.module and args.no_local_rank and args.launcher == "pdsh"
    assert (args.user_script, args.user_args) == ("services.training.trainer.run",
                                                  ["--config", str(RUN)])
    pool = _parse_hostfile(plan.files[RUN.parent / "hostfile"].splitlines())
    assert pool == {"gpu-a": 8, "gpu-c": 8}
    # What the runner hands pdsh: no host prefix, every node runs the trainer module.
    resources = {host: list(range(8)) for host in pool}
    cmd, _, env = PDSHRunner(args, encode_world_info(resources)).get_cmd({}, resources)
    assert cmd[:7] == ["pdsh", "-S", "-f", "1024", "-w", "gpu-a,gpu-c", "-N"]
    assert cmd[-3:] == ["services.training.trainer.run", "--config", str(RUN)]
    assert {"--module", "--no_local_rank"} <= set(cmd) and env["PDSH_RCMD_TYPE"] == "ssh"


def test_deepspeed_runner_launches_the_plan_through_pdsh(hostfile_cluster, tmp_path):
    """The real runner, with pdsh and ssh replaced by scripts that record how they were called."""
    bin_dir, job_dir = tmp_path / "bin", tmp_path / JOB
    bin_dir.mkdir(), job_dir.mkdir()
    record = tmp_path / "pdsh.json"
    (bin_dir / "pdsh").write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'env': dict(os.environ)}},"
        f" open({str(record)!r}, 'w'))\n")
    (bin_dir / "ssh").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("pdsh", "ssh"):
        (bin_dir / tool).chmod(0o755)
    plan = multinode_launch(JOB, hp(), job_dir / "run.json", hostfile_cluster,
                            python=sys.executable)
    for path, text in plan.files.items():
        path.write_text(text)
    env = {**os.environ, **plan.env, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "DS_ACCELERATOR": "cpu"}
    done = subprocess.run(plan.processes[0], cwd=job_dir, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    called = json.loads(record.read_text())
    argv = called["argv"]
    assert argv[:6] == ["-S", "-f", "1024", "-w", "gpu-a,gpu-c", "-N"]
    remote = " ".join(argv[6:])
    for exported in ("export NCCL_SOCKET_IFNAME=eth0;", "export TOKENIZERS_PARALLELISM=false;",
                     f"cd {job_dir};", "--node_rank=%n", "--master_addr=gpu-a",
                     "--no_local_rank", "--module",
                     f"services.training.trainer.run --config {job_dir}/run.json"):
        assert exported in remote, exported
    assert called["env"]["PDSH_SSH_ARGS_APPEND"].split()[-4:] == [
        "-i", "/keys/id_ed25519", "-p", "2222"]


def test_master_address_can_be_set_apart_from_the_first_host(hostfile_cluster):
    cluster = hostfile_cluster.model_copy(update={"master_addr": "10.0.0.1",
                                                  "master_port": 29600})
    argv = multinode_launch(JOB, hp(), RUN, cluster, python="python").processes[0]
    assert argv[argv.index("--master_addr") + 1] == "10.0.0.1"
    assert argv[argv.index("--master_port") + 1] == "29600"


# torchrun, one per node over ssh.

def test_torchrun_plan_starts_one_torchrun_per_node_over_ssh(hostfile_cluster):
    cluster = hostfile_cluster.model_copy(update={"launcher": "torchrun"})
    plan = multinode_launch(JOB, hp(), RUN, cluster, python="/opt/venv/bin/python")
    assert [p[:7] for p in plan.processes] == [
        ["ssh", "-tt", "-o", "BatchMode=yes", "-p", "2222", "-i"],
        ["ssh", "-tt", "-o", "BatchMode=yes", "-p", "2222", "-i"]]
    assert [p[8] for p in plan.processes] == ["gpu-a", "gpu-c"]
    assert plan.files == {} and plan.env == {}
    remote = shlex.split(plan.processes[1][9])
    assert remote[:5] == ["cd", str(RUN.parent), "&&", "exec", "env"]
    assert remote[5:9] == ["NCCL_SOCKET_IFNAME=eth0", "PYTHONUNBUFFERED=1",
                           "TOKENIZERS_PARALLELISM=false", "/opt/venv/bin/python"]
    assert remote[9:] == [
        "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=8", "--node_rank=1",
        "--master_addr=gpu-a", "--master_port=29500",
        "-m", "services.training.trainer.run", "--config", str(RUN)]


def test_torchrun_reads_each_node_command_as_a_static_rendezvous(hostfile_cluster):
    from torch.distributed.run import parse_args

    cluster = hostfile_cluster.model_copy(update={"launcher": "torchrun"})
    plan = multinode_launch(JOB, hp(), RUN, cluster, python="python")
    for rank, process in enumerate(plan.processes):
        argv = shlex.split(process[9])
        args = parse_args(argv[argv.index("torch.distributed.run") + 1:])
        assert (args.nnodes, args.nproc_per_node, args.node_rank) == ("2", "8", rank)
        assert (args.rdzv_backend, args.master_addr, args.master_port) == (
            "static", "gpu-a", 29500)
        assert args.module and args.training_script == "services.training.trainer.run"
        assert args.training_script_args == ["--config", str(RUN)]


# Kubernetes.

def test_trainjob_for_two_nodes_of_eight_gpus():
    cluster = ClusterSettings(backend="kubernetes", namespace="ml",
                              image="registry.example.com/tuneforge-gpu:0.1.0",
                              env={"NCCL_DEBUG": "WARN"})
    plan = multinode_launch(JOB, hp(), RUN, cluster, python="ignored")
    assert plan.processes == [] and plan.files == {}
    assert plan.trainjob == {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": {"name": JOB, "namespace": "ml",
                     "labels": {"app.kubernetes.io/part-of": "tuneforge",
                                "app.kubernetes.io/component": "fine-tuning-job",
                                "app.kubernetes.io/instance": JOB}},
        "spec": {
            "runtimeRef": {"apiGroup": "trainer.kubeflow.org", "kind": "TrainingRuntime",
                           "name": "tuneforge-torch"},
            "trainer": {
                "image": "registry.example.com/tuneforge-gpu:0.1.0",
                "numNodes": 2,
                "numProcPerNode": 8,
                "resourcesPerNode": {"requests": {"nvidia.com/gpu": "8"},
                                     "limits": {"nvidia.com/gpu": "8"}},
                "command": ["python", "-m", "torch.distributed.run", "--nnodes=2",
                            "--nproc_per_node=8", "-m", "services.training.trainer.run",
                            "--config", str(RUN)],
                "env": [{"name": "NCCL_DEBUG", "value": "WARN"},
                        {"name": "PYTHONUNBUFFERED", "value": "1"},
                        {"name": "TOKENIZERS_PARALLELISM", "value": "false"}],
            },
        },
    }


def test_trainjob_can_leave_the_image_to_a_cluster_runtime():
    cluster = ClusterSettings(backend="kubernetes", namespace="ml", gpu_resource="amd.com/gpu",
                              runtime="torch-distributed", runtime_kind="ClusterTrainingRuntime")
    job = multinode_launch(JOB, hp(num_nodes=4, num_gpus=16), RUN, cluster, "python").trainjob
    assert "image" not in job["spec"]["trainer"]
    assert job["spec"]["runtimeRef"] == {"apiGroup": "trainer.kubeflow.org",
                                         "kind": "ClusterTrainingRuntime",
                                         "name": "torch-distributed"}
    assert job["spec"]["trainer"]["resourcesPerNode"]["limits"] == {"amd.com/gpu": "4"}


def test_namespace_defaults_to_the_pods_own_then_default(tmp_path):
    ns_file = tmp_path / "namespace"
    cluster = ClusterSettings(backend="kubernetes")
    assert resolve_namespace(cluster, in_cluster=ns_file) == "default"
    ns_file.write_text("tuneforge\n")
    assert resolve_namespace(cluster, in_cluster=ns_file) == "tuneforge"
    assert resolve_namespace(cluster.model_copy(update={"namespace": "ml"}),
                             in_cluster=ns_file) == "ml"


def test_job_id_that_is_no_dns_label_is_refused():
    assert trainjob_name("ftjob-0193AB") == "ftjob-0193ab"
    with pytest.raises(ValueError, match="no valid TrainJob name"):
        trainjob_name("ftjob_0193")
    with pytest.raises(ValueError, match="at most 63 characters"):
        trainjob_name("ftjob-" + "a" * 60)


@pytest.mark.parametrize("conditions, state", [
    ([], ("running", "")),
    ([{"type": "Created", "status": "True", "reason": "JobSetCreated"}], ("running", "")),
    ([{"type": "Complete", "status": "True", "message": "jobset completed"}],
     ("succeeded", "jobset completed")),
    ([{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}],
     ("failed", "DeadlineExceeded")),
    ([{"type": "Complete", "status": "False"}], ("running", "")),
    ([{"type": "Suspended", "status": "True", "reason": "Suspended"}],
     ("suspended", "Suspended")),
])
def test_trainjob_state_follows_its_conditions(conditions, state):
    assert trainjob_state({"status": {"conditions": conditions}}) == state
