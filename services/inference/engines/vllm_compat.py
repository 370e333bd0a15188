"""A stand-in for vLLM's OpenAI server: the part of its HTTP contract VLLMEngine uses, served
by our transformers engine. It takes vLLM's command-line flags, so the managed-subprocess,
proxying and runtime-adapter code runs unchanged on hosts without vLLM (tests, CPU hosts).

    python -m services.inference.engines.vllm_compat --model DIR --port 8001 --enable-lora ...

Contract: GET /health; GET /v1/models; POST /v1/completions (token-id prompt, streamed, with
`return_tokens_as_token_ids` logprobs; the stop token is left out of the stream, as vLLM does);
POST /v1/load_lora_adapter and /v1/unload_lora_adapter.
"""

import argparse
import json
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from services.inference.engines.adapters import lora_rank
from services.inference.engines.base import Adapter, EngineSpec, GenerationRequest
from services.inference.engines.transformers_engine import TransformersEngine


class CompletionBody(BaseModel):
    model: str
    prompt: list[int]
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None
    stop_token_ids: list[int] = []
    logprobs: int | None = None
    stream: bool = True
    return_tokens_as_token_ids: bool = False


class LoadAdapter(BaseModel):
    lora_name: str
    lora_path: str = ""


def create_app(args: argparse.Namespace) -> FastAPI:
    spec = EngineSpec("transformers", Path(args.model), device="cpu",
                      max_concurrent_requests=args.max_num_seqs, max_context=args.max_model_len,
                      max_loras=args.max_loras)
    engine = TransformersEngine(spec)
    adapters: dict[str, Adapter] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if args.chat_template:  # as vLLM does: the file must exist and is what chat renders
            Path(args.chat_template).read_text()
        await engine.load()
        yield
        await engine.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> PlainTextResponse:
        return PlainTextResponse("")

    @app.get("/v1/models")
    async def models() -> dict:
        data = [{"id": args.served_model_name, "object": "model",
                 "max_model_len": engine.context_length}]
        data += [{"id": name, "object": "model", "parent": args.served_model_name}
                 for name in adapters]
        return {"object": "list", "data": data}

    @app.post("/v1/load_lora_adapter")
    async def load_adapter(body: LoadAdapter) -> PlainTextResponse:
        if not args.enable_lora:
            raise HTTPException(400, "LoRA is not enabled; start the server with --enable-lora")
        config = Path(body.lora_path) / "adapter_config.json"
        if not config.is_file():
            raise HTTPException(400, f"No adapter found at {body.lora_path}")
        rank = lora_rank(json.loads(config.read_text()))
        if rank > args.max_lora_rank:
            raise HTTPException(400, f"LoRA rank {rank} is greater than max_lora_rank "
                                     f"{args.max_lora_rank}")
        adapters[body.lora_name] = Adapter(body.lora_name, Path(body.lora_path), rank)
        return PlainTextResponse(f"Success: LoRA adapter '{body.lora_name}' added successfully.")

    @app.post("/v1/unload_lora_adapter")
    async def unload_adapter(body: LoadAdapter) -> PlainTextResponse:
        if adapters.pop(body.lora_name, None) is None:
            raise HTTPException(404, f"The lora adapter '{body.lora_name}' cannot be found.")
        return PlainTextResponse(f"Success: LoRA adapter '{body.lora_name}' removed.")

    @app.post("/v1/completions")
    async def completions(body: CompletionBody) -> StreamingResponse:
        if body.model != args.served_model_name and body.model not in adapters:
            raise HTTPException(404, f"The model `{body.model}` does not exist.")
        request = GenerationRequest(
            body.prompt, body.max_tokens, body.temperature, body.top_p, body.seed,
            frozenset(body.stop_token_ids) | engine.stop_token_ids, max(body.top_k, 0),
            body.presence_penalty, body.frequency_penalty, body.logprobs,
            adapters.get(body.model))
        return StreamingResponse(_stream(engine, request, body.model),
                                 media_type="text/event-stream")

    return app


async def _stream(engine: TransformersEngine, request: GenerationRequest, model: str):
    count, finish = 0, "length"
    async for token in engine.generate(request):
        count += 1
        if token.id in request.stop_token_ids:
            finish = "stop"
            break
        logprobs = None
        if request.logprobs is not None:
            logprobs = {"tokens": [f"token_id:{token.id}"], "token_logprobs": [token.logprob],
                        "top_logprobs": [{f"token_id:{i}": lp for i, lp in token.top_logprobs}]}
        yield _event({"object": "text_completion", "model": model, "choices": [{
            "index": 0, "text": engine.tokenizer.decode([token.id]), "logprobs": logprobs,
            "finish_reason": None}]})
    yield _event({"object": "text_completion", "model": model, "choices": [{
        "index": 0, "text": "", "logprobs": None, "finish_reason": finish}]})
    yield "data: [DONE]\n\n"


def _event(data: dict) -> str:
    return f"data: {json.dumps(data)}\n\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="A vLLM-contract server on transformers.")
    p.add_argument("--model", required=True)
    p.add_argument("--served-model-name", default=None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-num-seqs", type=int, default=32)
    p.add_argument("--max-model-len", type=int, default=0)
    p.add_argument("--chat-template", default="")
    p.add_argument("--enable-lora", action="store_true")
    p.add_argument("--max-loras", type=int, default=1)
    p.add_argument("--max-lora-rank", type=int, default=16)
    p.add_argument("--tensor-parallel-size", type=int, default=1)
    args = p.parse_args(argv)
    args.served_model_name = args.served_model_name or args.model
    return args


def main() -> None:
    args = parse_args()
    uvicorn.run(create_app(args), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
