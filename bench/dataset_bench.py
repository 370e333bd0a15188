"""Dataset validation + tokenisation throughput and memory, against the naive baseline.

    python -m bench.dataset_bench [--records 200000] [--upload-gb 1] [--model DIR]

Generates a mixed Chinese/English chat corpus (1-8 turns a conversation) as one JSON array in
the seed's format, then measures in separate processes, so each peak RSS is its own:
  baseline  json.load the whole file, then apply_chat_template(tokenize=True) row by row
  tuneforge the dataset service's path: streaming validation to canonical JSONL, then the
            tokenized cache (ids + loss masks) with batched fast encoding
and finally uploads a file of --upload-gb GiB through a real dataset server process over gRPC,
sampling that process's peak RSS. Prints one table. Its CPU columns add up the CPU time of every
process on a side (tuneforge's tokenizing workers included): on a busy machine the wall-clock
speed-up of the parallel side drops, the CPU one does not.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROLES = {"user": "user", "assistant": "assistant", "system": "system"}

_ZH_WORDS = ("我们 你们 他们 今天 明天 模型 数据 训练 学习 问题 答案 系统 用户 助手 时间 工作 "
             "中国 北京 上海 技术 人工智能 语言 文本 分析 结果 方法 需要 可以 如果 因为 所以 但是 "
             "已经 非常 重要 简单 复杂 帮助 解释 理解 提供 使用 开发 应用 程序 代码 函数 变量 "
             "请问 谢谢 您好 当然 首先 然后 最后 总之 例如 比如 这个 那个 什么 怎么 为什么 "
             "的 了 是 在 有 和 也 都 就 要 会 能 说 看 做 想 去 来 好 大 小 多 少").split()
_EN_WORDS = ("the of and to a in is that for it as was with be by on not he this are or his "
             "from at which but have an they you were her she there one all we their can has "
             "model data training learning token chat assistant user answer question system "
             "python function variable code example result method important simple complex "
             "explain understand provide use develop application program please thanks "
             "however therefore first then finally because although network language").split()
_ZH_PUNCT, _EN_PUNCT = "，。？！；：", ".,?!;:"


def _sentence(rng: random.Random) -> str:
    if rng.random() < 0.55:
        words = [rng.choice(_ZH_WORDS) for _ in range(rng.randint(4, 14))]
        if rng.random() < 0.2:  # code-switching, as in real Chinese chats
            words.insert(rng.randrange(len(words)), f" {rng.choice(_EN_WORDS)} ")
        return "".join(words) + rng.choice(_ZH_PUNCT)
    words = [rng.choice(_EN_WORDS) for _ in range(rng.randint(5, 18))]
    if rng.random() < 0.2:
        words.append(str(rng.randint(0, 100_000)))
    return " ".join(words).capitalize() + rng.choice(_EN_PUNCT) + " "


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(_sentence(rng) for _ in range(rng.randint(lo, hi))).strip()


def conversation(rng: random.Random, n: int) -> dict:
    """One record in the seed's format: 1-8 turns, an optional system prompt."""
    turns = []
    if rng.random() < 0.2:
        turns.append({"from": "system", "value": _text(rng, 1, 2)})
    for i in range(rng.randint(1, 8)):
        role = "user" if i % 2 == 0 else "assistant"
        turns.append({"from": role, "value": _text(rng, 1, 3) if role == "user"
                      else _text(rng, 1, 6)})
    if turns[-1]["from"] == "user":
        turns.append({"from": "assistant", "value": _text(rng, 1, 6)})
    return {"id": f"conv-{n}", "source": "bench", "conversations": turns}


def write_array(path: Path, records: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n")
        for n in range(records):
            f.write((",\n" if n else "") + json.dumps(conversation(rng, n), ensure_ascii=False))
        f.write("\n]\n")


def write_jsonl(path: Path, size: int, seed: int = 1) -> None:
    """About `size` bytes of JSONL, from a pool of records with fresh ids."""
    rng = random.Random(seed)
    pool = [conversation(rng, n) for n in range(20_000)]
    written, n = 0, 0
    with open(path, "wb") as f:
        while written < size:
            record = dict(pool[n % len(pool)], id=f"conv-{n}")
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
            f.write(line)
            written += len(line)
            n += 1


def peak_rss_mb(pid: str | None = "self") -> float:
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_baseline(path: Path, model: Path) -> dict:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    start, cpu = time.perf_counter(), time.process_time()
    with open(path, encoding="utf-8") as f:
        records = json.load(f)
    tokens = 0
    for record in records:
        messages = [{"role": ROLES[t["from"]], "content": t["value"]}
                    for t in record["conversations"]]
        ids = tokenizer.apply_chat_template(messages, tokenize=True)
        tokens += len(ids["input_ids"] if hasattr(ids, "keys") else ids)
    return {"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "records": len(records), "tokens": tokens}


def build_part(*args) -> tuple[dict, float, float]:
    """`build_tokenized` in a worker: its meta, CPU seconds and the worker's peak RSS."""
    from services.dataset.worker import build_tokenized

    cpu = time.process_time()
    meta = build_tokenized(*args)
    return meta, time.process_time() - cpu, peak_rss_mb()


def run_tuneforge(path: Path, model: Path, workers: int) -> dict:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from services.dataset.formats import Limits
    from services.dataset.validation import ReportSink, validate
    from services.dataset.worker import example_tokenizer, merge_parts, split_ranges

    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    # Loading the tokenizer in each worker is start-up, not throughput.
    list(pool.map(example_tokenizer, [str(model)] * workers, chunksize=1))
    with tempfile.TemporaryDirectory() as tmp, pool:
        canonical, out = Path(tmp) / "canonical.jsonl", Path(tmp) / "out"
        out.mkdir()
        start, cpu = time.perf_counter(), time.process_time()
        summary = validate(path, canonical, Limits(8 * 1024 * 1024), ReportSink())
        validated = time.perf_counter()
        ranges = split_ranges(canonical, workers)
        parts = [str(Path(tmp) / f"part-{k}") for k in range(len(ranges))]
        for part in parts:
            Path(part).mkdir()
        built = list(pool.map(build_part, [str(canonical)] * len(parts),
                              [str(model)] * len(parts), [2048] * len(parts), parts,
                              [{}] * len(parts), *zip(*ranges)))
        meta = merge_parts(parts, str(out))
        done = time.perf_counter()
        cpu = time.process_time() - cpu + sum(worker_cpu for _, worker_cpu, _ in built)
    assert summary.num_errors == 0, summary.details(3)
    return {"seconds": done - start, "cpu_s": cpu, "validate_s": validated - start,
            "tokenize_s": done - validated, "records": meta["num_examples"],
            "tokens": meta["num_tokens"], "fast_path": meta["fast_path"],
            "workers_rss_mb": max(rss for _, _, rss in built)}


def measure(kind: str, path: Path, model: Path, workers: int) -> dict:
    """Run one side in a fresh process; returns its numbers and peak RSS."""
    out = subprocess.run([sys.executable, "-m", "bench.dataset_bench", "--_run", kind,
                          "--_file", str(path), "--model", str(model), "--workers", str(workers)],
                         cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def upload_through_server(path: Path, workdir: Path) -> dict:
    """Upload `path` to a real dataset server process; its peak RSS while validating."""
    from tests.support import free_port, start_nats, wait_for_port

    nats, nats_url = start_nats(workdir / "nats")
    port = free_port()
    env = {**os.environ, "TUNEFORGE_DATA_DIR": str(workdir / "data"),
           "TUNEFORGE_NATS_URL": nats_url, "TUNEFORGE_DATASET_ADDR": f"127.0.0.1:{port}",
           "TUNEFORGE_DATASET_MAX_UPLOAD_BYTES": str(path.stat().st_size + 1),
           "TUNEFORGE_DATASET_METRICS_PORT": "0", "TUNEFORGE_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "services.dataset"], cwd=ROOT, env=env)
    try:
        wait_for_port(port, timeout=60, proc=server)
        idle = peak_rss_mb(str(server.pid))
        start = time.perf_counter()
        f = _upload(f"127.0.0.1:{port}", path)
        seconds = time.perf_counter() - start
        peak = peak_rss_mb(str(server.pid))
    finally:
        server.terminate()
        server.wait(30)
        nats.terminate()
        nats.wait(10)
    return {"seconds": seconds, "records": f.num_examples, "status": f.status,
            "idle_rss_mb": idle, "peak_rss_mb": peak}


def _upload(address: str, path: Path):
    import asyncio

    from services.common.grpc_client import channel
    from tuneforge.v1 import dataset_pb2 as pb
    from tuneforge.v1 import dataset_pb2_grpc

    async def go():
        async def requests():
            yield pb.UploadFileRequest(header=pb.UploadFileHeader(filename=path.name,
                                                                  purpose="fine-tune"))
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    yield pb.UploadFileRequest(chunk=chunk)
        async with channel(address) as ch:
            return await dataset_pb2_grpc.DatasetServiceStub(ch).UploadFile(requests(),
                                                                            timeout=3600)
    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--upload-gb", type=float, default=1.0, help="0 skips the upload run")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="tokenizing worker processes, as the service's tokenize_workers")
    parser.add_argument("--model", type=Path, default=ROOT / "var" / "models" / "tiny-qwen2")
    parser.add_argument("--_run", choices=["baseline", "tuneforge"], help=argparse.SUPPRESS)
    parser.add_argument("--_file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._run:
        result = run_baseline(args._file, args.model) if args._run == "baseline" \
            else run_tuneforge(args._file, args.model, args.workers)
        print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))
        return
    if not (args.model / "tokenizer.json").is_file():
        from services.registry.tiny_model import build_tiny_model

        build_tiny_model(args.model)
    with tempfile.TemporaryDirectory(prefix="dataset-bench-") as tmp:
        corpus = Path(tmp) / "corpus.json"
        write_array(corpus, args.records)
        mb = corpus.stat().st_size / 1e6
        print(f"corpus: {args.records} conversations, {mb:.1f} MB", flush=True)
        rows = [("baseline", measure("baseline", corpus, args.model, 1)),
                ("tuneforge", measure("tuneforge", corpus, args.model, args.workers))]
        _table(rows, mb)
        if args.upload_gb:
            big = Path(tmp) / "big.jsonl"
            write_jsonl(big, int(args.upload_gb * (1 << 30)))
            r = upload_through_server(big, Path(tmp))
            size = big.stat().st_size / 1e6
            print(f"\nupload + validate {size:.0f} MB through a dataset server: "
                  f"{r['seconds']:.1f} s ({size / r['seconds']:.1f} MB/s), "
                  f"{r['records']} records, status {r['status']}, server RSS "
                  f"{r['idle_rss_mb']:.0f} MB idle, {r['peak_rss_mb']:.0f} MB peak")


def _table(rows: list[tuple[str, dict]], mb: float) -> None:
    base = rows[0][1]["records"] / rows[0][1]["seconds"]
    base_cpu = rows[0][1]["cpu_s"] / rows[0][1]["records"]
    print("\n| path | seconds | records/s | MB/s | speed-up | CPU s | CPU µs/record | "
          "CPU speed-up | peak RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows:
        rate = r["records"] / r["seconds"]
        cpu = r["cpu_s"] / r["records"]
        print(f"| {name} | {r['seconds']:.1f} | {rate:,.0f} | {mb / r['seconds']:.2f} | "
              f"{rate / base:.1f}x | {r['cpu_s']:.1f} | {cpu * 1e6:.0f} | "
              f"{base_cpu / cpu:.1f}x | {r['peak_rss_mb']:.0f} |")
    ours = rows[1][1]
    print(f"\ntuneforge: validate {ours['validate_s']:.1f} s + tokenize {ours['tokenize_s']:.1f} s"
          f" in worker processes (peak RSS {ours['workers_rss_mb']:.0f} MB each), fast path "
          f"{ours['fast_path']}, {ours['tokens']:,} tokens (baseline {rows[0][1]['tokens']:,}, "
          "without loss masks)")


if __name__ == "__main__":
    main()
