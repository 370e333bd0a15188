"""Training throughput on CPU: sequence packing against the seed's padding, and platform overhead.

    python -m bench.train_bench [--records 64] [--max-length 256] [--batch-size 8] [--rounds 2]

Generates chats whose mean tokenized length is about a quarter of --max-length, then trains the
same tiny model on the same batches for the same steps (one epoch, one CPU rank, ZeRO-2):
  seed      bare DeepSpeed loop, every example padded to model_max_length (finetune_merge.py)
  packed    bare DeepSpeed loop, each micro batch packed into one row with a block mask
  trainer   our Trainer (services/training/trainer/run.py) on the packed batches
The variants run interleaved for --rounds rounds; each reports its best round.
Useful tokens are the examples' real tokens, padding excluded. Prints one table.
"""

import argparse
import contextlib
import io
import json
import os
import random
import socket
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DS_ACCELERATOR", "cpu")  # read when deepspeed is imported

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from services.training.trainer.config import Hyperparameters, RunConfig  # noqa: E402
from services.training.trainer.data import (collate, load_dataset, model_inputs,  # noqa: E402
                                            rank_batches)
from services.training.trainer.ds_config import deepspeed_config  # noqa: E402
from services.training.trainer.optim import adamw  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("model data train token chat answer question system python code result simple "
         "explain network language 模型 数据 训练 学习 问题 答案 助手").split()


def make_records(n: int, mean_words: int, seed: int) -> list[dict]:
    """Chats with a geometric-ish spread of lengths around `mean_words` words."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        words = max(4, int(rng.expovariate(1 / mean_words)))
        ask = " ".join(rng.choice(WORDS) for _ in range(max(1, words // 3)))
        reply = " ".join(rng.choice(WORDS) for _ in range(words - words // 3))
        records.append({"id": str(i), "messages": [{"role": "user", "content": ask},
                                                    {"role": "assistant", "content": reply}]})
    return records


def init_single_rank() -> None:
    """A one-rank gloo group, as torchrun would set up, so DeepSpeed and the Trainer run here."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", LOCAL_RANK="0",
                      WORLD_SIZE="1", LOCAL_WORLD_SIZE="1")


def bare_loop(cfg: RunConfig, tokenizer, padded: bool) -> tuple[float, int]:
    """The plain DeepSpeed loop over the Trainer's batches; returns seconds and useful tokens."""
    import deepspeed
    from transformers import AutoModelForCausalLM

    # As in the Trainer: keeps DeepSpeed from compiling a shared-memory kernel it does not need.
    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
    hp = cfg.hyperparameters
    torch.manual_seed(cfg.seed)
    data = load_dataset(cfg.train_file, tokenizer, hp.model_max_length)
    model = AutoModelForCausalLM.from_pretrained(cfg.model_dir, dtype=torch.float32)
    # The Trainer's own optimizer (its parameter groups cost ZeRO a step each): the comparison
    # is of what the platform adds around the same training, not of optimizer settings.
    optimizer = adamw(model, hp)
    engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer,
                                      config=json.loads(cfg.deepspeed_config.read_text()))
    cpu, useful = torch.device("cpu"), 0
    started = time.perf_counter()
    for epoch in range(hp.n_epochs):
        for batch in rank_batches(len(data.examples), epoch, cfg.seed, 0, 1, hp.micro_batch_size):
            examples = [data.examples[i] for i in batch]
            if padded:
                inputs = collate(examples, tokenizer.pad_token_id, width=hp.model_max_length)
            else:
                inputs = model_inputs(examples, tokenizer.pad_token_id, True, cpu, torch.float32)
            engine.backward(engine(**inputs, use_cache=False).loss)
            engine.step()
            useful += sum(len(e.input_ids) for e in examples)
    return time.perf_counter() - started, useful


def our_trainer(cfg: RunConfig) -> tuple[float, int]:
    """The service's Trainer, its protocol output swallowed; returns seconds and useful tokens."""
    from services.training.trainer.run import Trainer

    trainer = Trainer(cfg)
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.setup()
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    return seconds, trainer.trained_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="best of N interleaved runs")
    parser.add_argument("--model", type=Path, default=ROOT / "var/models/tiny-qwen2")
    args = parser.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    from transformers import AutoTokenizer

    from services.registry.tiny_model import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="train-bench-"))
    model_dir = args.model if (args.model / "config.json").is_file() else \
        build_tiny_model(work / "tiny-qwen2")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # About 2.1 tokens a word plus ~20 of chat template: a mean of a quarter of max_length.
    records = make_records(args.records, int((args.max_length / 4 - 20) / 2.1), seed=0)
    train = work / "train.jsonl"
    train.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    hp = Hyperparameters(n_epochs=1, batch_size=args.batch_size, learning_rate=1e-4,
                         model_max_length=args.max_length, num_gpus=1, zero_stage=2)
    ds = work / "ds_config.json"
    ds.write_text(json.dumps(deepspeed_config(hp, bf16=False)))
    cfg = RunConfig(job_id="ftjob-bench", model_dir=model_dir, train_file=train,
                    output_dir=work / "out", deepspeed_config=ds, hyperparameters=hp, seed=0)
    data = load_dataset(train, tokenizer, args.max_length)
    lengths = [len(e.input_ids) for e in data.examples]
    mean = sum(lengths) / len(lengths)
    init_single_rank()
    dist.init_process_group("gloo")
    warm = cfg.model_copy(update={"hyperparameters": hp.model_copy(update={"batch_size": 64})})
    bare_loop(warm, tokenizer, padded=False)  # first-use costs (allocator, kernels), unmeasured

    runs = {"seed: padded to max_length": lambda: bare_loop(cfg, tokenizer, padded=True),
            "packed, bare DeepSpeed": lambda: bare_loop(cfg, tokenizer, padded=False),
            "packed, our Trainer": lambda: our_trainer(cfg)}
    # Interleaved rounds, best of each: on a shared host the load drifts between variants.
    best: dict[str, tuple[float, int]] = {}
    for _ in range(args.rounds):
        for name, run in runs.items():
            seconds, useful = run()
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, useful)
    rows = [(name, *best[name]) for name in runs]
    dist.destroy_process_group()

    steps = len(rank_batches(len(data.examples), 0, 0, 0, 1, hp.micro_batch_size))
    print(f"\n{len(lengths)} chats, mean {mean:.0f} tokens = {mean / args.max_length:.2f} of "
          f"model_max_length {args.max_length}; {steps} steps of {args.batch_size}; "
          f"{torch.get_num_threads()} threads; {model_dir.name}\n")
    base = rows[0][2] / rows[0][1]
    print(f"| {'variant':<28} | {'seconds':>8} | {'useful tokens':>13} | {'useful tok/s':>12} "
          f"| {'vs seed':>7} |")
    print(f"|{'-' * 30}|{'-' * 10}:|{'-' * 15}:|{'-' * 14}:|{'-' * 9}:|")
    for name, seconds, useful in rows:
        print(f"| {name:<28} | {seconds:>8.2f} | {useful:>13,} | {useful / seconds:>12,.0f} "
              f"| {useful / seconds / base:>6.2f}x |")
    overhead = rows[2][1] / rows[1][1] - 1
    print(f"\nplatform overhead (our Trainer vs bare DeepSpeed, same packed batches): "
          f"{overhead:+.1%}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
