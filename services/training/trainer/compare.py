"""The seed's before/after check: the same prompts answered by the base and the tuned model.

    python -m services.training.trainer.compare --base DIR --tuned DIR --prompts FILE

Prints one JSON line: {"type": "comparisons", "comparisons": [{prompt, base, fine_tuned}]}.
Greedy decoding, so the answers are reproducible.
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from services.common.chat import stop_token_ids, tokenize_prompt


def answer_all(model_dir: Path, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Each prompt as a one-turn chat, answered greedily by the model in `model_dir`."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    stops = stop_token_ids(tokenizer, model_dir)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    answers = []
    with torch.no_grad():
        for prompt in prompts:
            ids = tokenize_prompt(tokenizer, [{"role": "user", "content": prompt}])
            out = model.generate(torch.tensor([ids], device=device), do_sample=False,
                                 max_new_tokens=max_new_tokens, eos_token_id=stops,
                                 pad_token_id=pad)
            answers.append(tokenizer.decode(out[0, len(ids):], skip_special_tokens=True).strip())
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--tuned", type=Path, required=True)
    parser.add_argument("--prompts", type=Path, required=True, help="JSON list of strings")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    prompts = json.loads(args.prompts.read_text(encoding="utf-8"))
    base = answer_all(args.base, prompts, args.max_new_tokens)
    tuned = answer_all(args.tuned, prompts, args.max_new_tokens)
    print(json.dumps({"type": "comparisons", "comparisons": [
        {"prompt": p, "base": b, "fine_tuned": t} for p, b, t in zip(prompts, base, tuned)]},
        ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
