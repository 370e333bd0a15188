"""Continuous batching: sequences join and leave one running batch at token boundaries.

One thread owns the model. Between decode steps it drops sequences whose callers left, admits
waiting ones (prefilled together, then merged into the batch) while slots are free, and then
decodes one token for every running sequence in a single forward pass.
"""

import logging
import queue
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from services.common.errors import TuneForgeError
from services.inference.engines.base import Adapter, GenerationRequest, SampledToken
from services.inference.engines.kv_batch import KVBatch
from services.inference.engines.sampling import apply_penalties, sample_token, token_logprobs

log = logging.getLogger(__name__)

END = object()  # a sequence's last item: generation ended normally

# (input_ids, attention_mask, position_ids, cache, adapter names per row) -> last logits [rows, V]
Forward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, DynamicCache,
                    Sequence[str | None]], torch.Tensor]
# Makes an adapter usable by the next forward; False when every adapter slot is in use.
PrepareAdapter = Callable[[Adapter, set[str]], bool]


@dataclass(eq=False)
class InFlight:
    """One request in flight; `emit` hands items to its caller's stream from this thread."""

    request: GenerationRequest
    emit: Callable[[object], None]
    generator: torch.Generator
    cancelled: bool = False  # set by the caller's thread when it stops reading
    generated: int = 0
    last: int = -1  # the sampled token the next step feeds in
    counts: torch.Tensor | None = field(default=None, repr=False)  # per-token, for penalties

    @property
    def adapter(self) -> str | None:
        return self.request.adapter.name if self.request.adapter else None


class Scheduler:
    """Runs a model's forward over a continuously re-formed batch, in its own thread."""

    def __init__(self, forward: Forward, device: torch.device, max_batch: int,
                 prepare_adapter: PrepareAdapter | None = None,
                 max_prefill_tokens: int = 8192, name: str = "engine"):
        self.forward, self.device, self.max_batch = forward, device, max_batch
        self.prepare_adapter = prepare_adapter
        self.max_prefill_tokens = max_prefill_tokens
        self._inbox: queue.SimpleQueue[InFlight | None] = queue.SimpleQueue()
        self._waiting: list[InFlight] = []
        self._running: list[InFlight] = []
        self._batch: KVBatch | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def outstanding(self) -> int:
        return len(self._running) + len(self._waiting) + self._inbox.qsize()

    def submit(self, request: GenerationRequest, emit: Callable[[object], None]) -> InFlight:
        """Queue a request; its tokens, then END or an exception, go to `emit`."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(request.seed if request.seed is not None else secrets.randbits(63))
        seq = InFlight(request, emit, generator)
        if self._closed.is_set():
            raise TuneForgeError("unavailable", "The model is not loaded in this deployment.")
        self._inbox.put(seq)
        return seq

    def close(self) -> None:
        """Fail what is in flight and stop the thread once its current step is done."""
        self._closed.set()
        self._inbox.put(None)
        self._thread.join()

    # -- the thread ---------------------------------------------------------------------------

    def _loop(self) -> None:
        with torch.inference_mode():
            while not self._closed.is_set():
                self._collect(block=not self._running and not self._waiting)
                self._drop_cancelled()
                try:
                    if joining := self._admit():
                        self._prefill(joining)
                    if self._running:
                        self._decode()
                except Exception as e:  # noqa: BLE001 - every caller in the batch hears of it
                    log.exception("batch step failed")
                    self._fail(self._running, e)
                    self._running, self._batch = [], None
        gone = TuneForgeError("unavailable", "The deployment was deleted while generating.")
        self._fail(self._running + self._waiting + self._drain_inbox(), gone)

    def _collect(self, block: bool) -> None:
        """Move submitted requests to the waiting list; `block`: wait for one when idle."""
        if block:
            try:
                item = self._inbox.get(timeout=0.5)  # wakes at once on submit or close
            except queue.Empty:
                return
            if item is not None:
                self._waiting.append(item)
        self._waiting += self._drain_inbox()

    def _drain_inbox(self) -> list[InFlight]:
        items = []
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return items
            if item is not None:
                items.append(item)

    def _drop_cancelled(self) -> None:
        self._waiting = [s for s in self._waiting if not s.cancelled]
        keep = [i for i, s in enumerate(self._running) if not s.cancelled]
        if len(keep) < len(self._running):
            self._keep(keep)

    def _admit(self) -> list[InFlight]:
        """Waiting sequences that fit: free slots, the prefill budget, a loaded adapter."""
        joining: list[InFlight] = []
        in_use = {s.adapter for s in self._running if s.adapter}
        width = 0
        for seq in list(self._waiting):
            if len(self._running) + len(joining) >= self.max_batch:
                break
            width = max(width, len(seq.request.prompt_token_ids))
            if joining and width * (len(joining) + 1) > self.max_prefill_tokens:
                break
            if seq.request.adapter is not None:
                try:
                    if not self.prepare_adapter(seq.request.adapter, in_use):
                        continue  # every adapter slot is busy; it waits for one to free
                except Exception as e:  # noqa: BLE001 - this request alone fails
                    self._waiting.remove(seq)
                    self._fail([seq], e)
                    continue
                in_use.add(seq.adapter)
            self._waiting.remove(seq)
            joining.append(seq)
        return joining

    def _prefill(self, joining: list[InFlight]) -> None:
        ids, mask, positions = KVBatch.prefill_inputs(
            [s.request.prompt_token_ids for s in joining], self.device)
        cache = DynamicCache()
        try:
            logits = self.forward(ids, mask, positions, cache, [s.adapter for s in joining])
        except Exception as e:  # noqa: BLE001 - only the joining requests fail
            log.exception("prefill failed")
            self._fail(joining, e)
            return
        done = self._sample(joining, logits)
        batch = KVBatch(cache, mask)
        keep = [i for i, d in enumerate(done) if not d]
        if len(keep) < len(joining):
            batch = batch.select(keep) if keep else None
        if batch is None:
            return
        self._running += [joining[i] for i in keep]
        self._batch = batch if self._batch is None else self._batch.merge(batch)

    def _decode(self) -> None:
        batch = self._batch
        ids = torch.tensor([[s.last] for s in self._running], device=self.device)
        mask, positions = batch.step_inputs()
        logits = self.forward(ids, mask, positions, batch.cache,
                              [s.adapter for s in self._running])
        done = self._sample(self._running, logits)
        if any(done):
            self._keep([i for i, d in enumerate(done) if not d])

    def _keep(self, rows: list[int]) -> None:
        self._running = [self._running[i] for i in rows]
        self._batch = self._batch.select(rows) if rows else None

    def _sample(self, seqs: list[InFlight], logits: torch.Tensor) -> list[bool]:
        """Choose each sequence's next token and hand it over; True where a sequence ended."""
        greedy = logits.argmax(-1).tolist()
        done = []
        for row, seq in enumerate(seqs):
            req, scores = seq.request, logits[row]
            penalized = bool(req.presence_penalty or req.frequency_penalty)
            if penalized:
                if seq.counts is None:
                    seq.counts = torch.zeros(scores.shape[-1], dtype=torch.int32,
                                             device=scores.device)
                scores = apply_penalties(scores, seq.counts, req.presence_penalty,
                                         req.frequency_penalty)
            if req.temperature == 0 and not penalized:
                token = greedy[row]
            else:
                token = sample_token(scores, req.temperature, req.top_p, seq.generator,
                                     req.top_k)
            if seq.counts is not None:
                seq.counts[token] += 1
            logprob, top = (token_logprobs(logits[row], token, req.logprobs)
                            if req.logprobs is not None else (None, ()))
            seq.generated += 1
            seq.last = token
            seq.emit(SampledToken(token, logprob, top))
            ended = token in req.stop_token_ids or seq.generated >= req.max_tokens
            if ended:
                seq.emit(END)
            done.append(ended)
        return done

    @staticmethod
    def _fail(seqs: list[InFlight], error: Exception) -> None:
        for seq in seqs:
            seq.emit(error)
