"""Two nodes on one host: the per-node torchrun commands of a multi-node plan really train.

Each "node" is a torchrun with one CPU rank, joined by the static rendezvous the plan uses;
num_gpus counts the ranks of both nodes. Rank 0 (node 0) alone writes the progress protocol.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from services.registry.tiny_model import build_tiny_model
from services.training.multinode import gpus_per_node
from services.training.multinode.commands import torchrun_command
from services.training.trainer.config import Hyperparameters, RunConfig
from services.training.trainer.ds_config import deepspeed_config
from tests.support import free_port

RECORDS = [{"id": str(i), "messages": [{"role": "user", "content": f"问题 {i}"},
                                       {"role": "assistant", "content": f"我是小智 {i}"}]}
           for i in range(4)]


def protocol(stdout: str) -> list[dict]:
    return [json.loads(x) for x in stdout.splitlines() if x.startswith("{")]


def test_two_nodes_of_one_rank_train_with_rank_0_reporting_from_node_0(tmp_path: Path):
    model = build_tiny_model(tmp_path / "tiny-qwen2")
    hp = Hyperparameters(n_epochs=1, batch_size=2, num_gpus=2, num_nodes=2, zero_stage=2,
                         learning_rate=1e-3, model_max_length=64)
    data, ds, run = tmp_path / "train.jsonl", tmp_path / "ds_config.json", tmp_path / "run.json"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS))
    ds.write_text(json.dumps(deepspeed_config(hp, bf16=False)))
    run.write_text(RunConfig(job_id="ftjob-multinode", model_dir=model, train_file=data,
                             output_dir=tmp_path / "output", deepspeed_config=ds,
                             hyperparameters=hp, seed=1).model_dump_json())
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    port = free_port()
    nodes = [subprocess.Popen(
        torchrun_command(sys.executable, hp.num_nodes, gpus_per_node(hp), rank, "127.0.0.1",
                         port, run),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for rank in range(hp.num_nodes)]
    outputs = [node.communicate(timeout=300) for node in nodes]
    for node, (_, err) in zip(nodes, outputs):
        assert node.returncode == 0, err[-3000:]
    node0, node1 = (protocol(out) for out, _ in outputs)
    # 4 records, one per rank per step, 2 ranks: 2 steps.
    assert [x["step"] for x in node0 if x["type"] == "metrics"] == [1, 2]
    assert [x["type"] for x in node0][-1] == "result"
    assert node1 == [], "only rank 0 reports"
    assert (tmp_path / "output" / "model.safetensors").is_file()
