"""Training throughput and MFU on one GPU: a Qwen2-shaped model, bf16, packed rows, ZeRO-2.

    python -m bench.gpu_train [--size 0.5b|1.5b] [--seq 2048] [--steps 20] [--peak-tflops 989]

Random weights (no download). Each row packs random-length documents into --seq tokens with
position_ids restarting per document, the trainer's packing; flash-attention-2 when installed
(its varlen path), else sdpa with the block mask transformers derives from the position ids.
MFU counts (6*N + 6*layers*hidden*mean_doc_len) FLOPs per token, the causal attention term
halved, over --peak-tflops (dense bf16 of an H100/H200 SXM: 989). Needs CUDA.
"""

import argparse
import os
import random
import socket
import time

import torch
import torch.distributed as dist

SIZES = {  # Qwen2-0.5B and Qwen2-1.5B shapes
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                 num_attention_heads=14, num_key_value_heads=2),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                 num_attention_heads=12, num_key_value_heads=2),
}


def packed_row(seq: int, mean_doc: int, vocab: int, rng: random.Random) -> dict:
    """One row of `seq` tokens made of random-length documents."""
    positions: list[int] = []
    while len(positions) < seq:
        positions += range(min(max(16, int(rng.expovariate(1 / mean_doc))), seq - len(positions)))
    ids = torch.randint(0, vocab, (1, seq))
    pos = torch.tensor([positions])
    labels = ids.clone()
    labels[pos == 0] = -100
    return {"input_ids": ids, "position_ids": pos, "labels": labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="0.5b")
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--micro-batch", type=int, default=4, help="packed rows per step")
    parser.add_argument("--mean-doc", type=int, default=512, help="mean document length")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--checkpointing", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA GPU; this host has none")

    import deepspeed
    from transformers import AutoModelForCausalLM, Qwen2Config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", LOCAL_RANK="0",
                      WORLD_SIZE="1")
    dist.init_process_group("nccl")
    torch.cuda.set_device(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        import flash_attn  # noqa: F401

        attention = "flash_attention_2"
    except ImportError:
        attention = "sdpa"
    config = Qwen2Config(vocab_size=151936, max_position_embeddings=args.seq,
                         tie_word_embeddings=True, **SIZES[args.size])
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation=attention,
                                             dtype=torch.bfloat16)
    if args.checkpointing:
        model.gradient_checkpointing_enable()
    n_params = sum(p.numel() for p in model.parameters())
    ds = {"train_micro_batch_size_per_gpu": args.micro_batch, "gradient_accumulation_steps": 1,
          "bf16": {"enabled": True}, "zero_optimization": {"stage": 2},
          "gradient_clipping": 1.0, "steps_per_print": 10**9}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, config=ds)
    rng = random.Random(0)

    def step() -> None:
        rows = [packed_row(args.seq, args.mean_doc, config.vocab_size, rng)
                for _ in range(args.micro_batch)]
        batch = {k: torch.cat([r[k] for r in rows]).cuda(non_blocking=True) for k in rows[0]}
        engine.backward(engine(**batch, use_cache=False).loss)
        engine.step()

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    tokens = args.steps * args.micro_batch * args.seq
    tok_s = tokens / seconds
    h, layers = config.hidden_size, config.num_hidden_layers
    flops_per_token = 6 * n_params + 6 * layers * h * args.mean_doc
    mfu = tok_s * flops_per_token / (args.peak_tflops * 1e12)
    print(f"\n{torch.cuda.get_device_name(0)}; {attention}; ZeRO-2 bf16; "
          f"peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB\n")
    print("| model | params | seq | rows/step | steps | tokens/s | TFLOP/s | MFU |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| qwen2-{args.size} | {n_params / 1e9:.2f}B | {args.seq} | {args.micro_batch} | "
          f"{args.steps} | {tok_s:,.0f} | {tok_s * flops_per_token / 1e12:.0f} | {mfu:.1%} |")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
