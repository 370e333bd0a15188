"""One training rank, started by torchrun: `-m services.training.trainer.run --config C`.

Rank 0 reports progress as JSON lines on stdout (see report.py); every rank logs to stderr.
"""

import argparse
import math
import os
import random
import sys
import time
import traceback
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from services.training.trainer.config import RunConfig
from services.training.trainer.data import DataError, input_tokens, load_dataset, \
    model_inputs, rank_batches, steps_per_epoch
from services.training.trainer.optim import adamw
from services.training.trainer.report import Reporter
from services.training.trainer.schedule import lr_multiplier, warmup_steps


class Diverged(RuntimeError):
    """The loss stopped being a finite number."""


class Paused(Exception):
    """The service asked the run to stop after a checkpoint; it continues on resume."""


@dataclass
class Position:
    """Where a run stands: saved with every checkpoint, restored on resume."""

    step: int = 0          # optimizer steps done
    epoch: int = 0         # epoch of the next micro batch
    batch: int = 0         # index of the next micro batch in that epoch
    trained_tokens: int = 0
    elapsed_s: float = 0.0  # training time before this process started


class Trainer:
    """A training run: `setup`, `train`, `save`, `cleanup`, driven by one validated RunConfig."""

    def __init__(self, cfg: RunConfig):
        self.cfg, self.hp = cfg, cfg.hyperparameters
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.report = Reporter(self.rank == 0)
        self.started = time.monotonic()
        self.trained_tokens = 0
        self.last_loss = math.nan
        self.last_accuracy = math.nan
        self.pause_requested = False
        self.position = self.position_at_start = Position()

    def setup(self) -> None:
        """Join the process group, load model and data, build the DeepSpeed engine."""
        if self.world != self.hp.num_gpus:
            raise RuntimeError(f"started with {self.world} ranks, the config asks for "
                               f"num_gpus={self.hp.num_gpus}")
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        # DeepSpeed must find the group already there: on CPU it cannot create a gloo group itself.
        if not dist.is_initialized():  # the benchmark runs several trainers in one group
            dist.init_process_group("nccl" if cuda else "gloo")
        random.seed(self.cfg.seed)
        torch.manual_seed(self.cfg.seed)

        import deepspeed
        from transformers import AutoModelForCausalLM, AutoTokenizer

        # DeepSpeed JIT-compiles a shared-memory all-reduce kernel (minutes on a small CPU)
        # that only its inference path uses; marking it unavailable keeps gloo for everything.
        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False

        tokenizer = AutoTokenizer.from_pretrained(self.cfg.model_dir)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
            tokenizer.eos_token_id
        self.data = load_dataset(self.cfg.train_file, tokenizer, self.hp.model_max_length)
        self.report.message(
            f"Tokenized {len(self.data.examples)} examples "
            f"({self.data.num_truncated} truncated to {self.hp.model_max_length} tokens, "
            f"{self.data.num_skipped} skipped with nothing left to train)")
        self.valid = None
        if self.cfg.valid_file:
            try:
                self.valid = load_dataset(self.cfg.valid_file, tokenizer,
                                          self.hp.model_max_length)
            except DataError as e:
                raise DataError(str(e), "validation_file") from None

        model = AutoModelForCausalLM.from_pretrained(self.cfg.model_dir, dtype=torch.float32)
        if self.lora_config() is not None:
            from peft import get_peft_model

            model = get_peft_model(model, self.lora_config())
        if self.hp.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        if cuda:
            tf32 = self.hp.tf32 is not False  # unset: on, as Ampere and newer GPUs have it
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        self.report.message(f"Loaded the base model: "
                            f"{trainable:,} trainable parameters on {self.world} rank(s)")

        self.steps_per_epoch = steps_per_epoch(len(self.data.examples), self.world,
                                               self.hp.micro_batch_size)
        # Optimizer steps; micro batches left over at the very end (< accumulation) add none.
        self.total_steps = self.steps_per_epoch * self.hp.n_epochs // \
            self.hp.gradient_accumulation_steps
        factor = lr_multiplier(self.hp.lr_scheduler_type, self.total_steps,
                               warmup_steps(self.total_steps, self.hp.warmup_ratio))
        self.engine, _, _, _ = deepspeed.initialize(
            model=model,
            optimizer=adamw(model, self.hp),
            lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, factor),
            config=str(self.cfg.deepspeed_config),
        )
        # The packed attention mask must match the dtype DeepSpeed runs the model in.
        self.dtype = torch.bfloat16 if self.engine.bfloat16_enabled() else torch.float32
        if self.cfg.resume_tag:
            self._resume(self.cfg.resume_tag)

    def _resume(self, tag: str) -> None:
        """Weights, optimizer, scheduler and data position of checkpoint `tag`."""
        path, state = self.engine.load_checkpoint(str(self.cfg.states), tag=tag)
        if path is None:
            raise RuntimeError(f"checkpoint {tag} could not be loaded from {self.cfg.states}")
        self.position = Position(**{k: state[k] for k in asdict(Position()) if k in state})
        self.trained_tokens = self.position.trained_tokens
        self.position_at_start = self.position
        self.report.message(f"Resumed from checkpoint {tag}: step {self.position.step}/"
                            f"{self.total_steps}, epoch {self.position.epoch + 1}")

    def lora_config(self):
        """PEFT LoRA config on every linear layer, or None for full fine-tuning."""
        if not self.hp.lora_r:
            return None
        from peft import LoraConfig

        targets = self.hp.lora_target_modules
        return LoraConfig(r=self.hp.lora_r, lora_alpha=self.hp.lora_alpha,
                          lora_dropout=self.hp.lora_dropout, task_type="CAUSAL_LM",
                          target_modules=targets if targets == "all-linear" else
                          targets.split(","))

    def train(self) -> None:
        """Every epoch, every batch, one optimizer step each; metrics and checkpoints on time."""
        start, examples = self.position, self.data.examples
        step, self.train_started = start.step, time.monotonic()
        for epoch in range(start.epoch, self.hp.n_epochs):
            batches = rank_batches(len(examples), epoch, self.cfg.seed, self.rank, self.world,
                                   self.hp.micro_batch_size)
            first = start.batch if epoch == start.epoch else 0
            self.report.message(f"Continuing epoch {epoch + 1}/{self.hp.n_epochs} at batch "
                                f"{first + 1}/{len(batches)}" if first else
                                f"Starting epoch {epoch + 1}/{self.hp.n_epochs}")
            for index in range(first, len(batches)):
                inputs = model_inputs([examples[i] for i in batches[index]], self.pad_id,
                                      self.hp.packing, self.engine.device, self.dtype)
                learning_rate = self.engine.get_lr()[0]
                outputs = self.engine(**inputs, use_cache=False)
                self.engine.backward(outputs.loss)
                boundary = self.engine.is_gradient_accumulation_boundary()
                self.engine.step()
                self._account(outputs, inputs, step + 1)
                if not boundary:
                    continue
                step += 1
                done = index + 1 == len(batches)
                self.position = Position(step, epoch + done, 0 if done else index + 1,
                                         self.trained_tokens, self._train_seconds())
                if step % self.hp.logging_steps == 0 or step == self.total_steps:
                    self._log_metrics(step, epoch + (index + 1) / len(batches), learning_rate)
                due = self._save_due(step, done)
                if self.pause_requested and step < self.total_steps:
                    self.checkpoint(export=due)  # a checkpoint due now is still deployable
                    raise Paused(step)
                if due and step < self.total_steps:
                    self.checkpoint(export=True)

    def _save_due(self, step: int, end_of_epoch: bool) -> bool:
        strategy = self.hp.save_strategy
        return (strategy == "steps" and step % self.hp.save_steps == 0) or \
            (strategy == "epoch" and end_of_epoch)

    def checkpoint(self, export: bool) -> None:
        """Save the DeepSpeed state (to resume) and, if `export`, a deployable model folder.

        A collective: every rank writes its partitions and takes part in gathering weights.
        """
        pos = self.position
        tag = f"step-{pos.step}"
        self.engine.save_checkpoint(str(self.cfg.states), tag=tag, client_state=asdict(pos))
        metrics = self._checkpoint_metrics()
        model_dir = ""
        if export:
            from services.training.trainer.export import full_state_dict, save_model

            state = full_state_dict(self.engine, self.hp.zero_stage)
            if self.rank == 0:
                model_dir = str(self.cfg.checkpoints / tag)
                save_model(state, self.cfg.model_dir, Path(model_dir), self.lora_config())
        dist.barrier()
        self.report.emit("checkpoint", step=pos.step, tag=tag, epoch=pos.epoch,
                         model_dir=model_dir, state_dir=str(self.cfg.states / tag),
                         metrics=metrics)

    def _checkpoint_metrics(self) -> dict:
        metrics = {"train_loss": round(self.last_loss, 6),
                   "train_mean_token_accuracy": round(self.last_accuracy, 6)}
        if self.valid is not None:
            metrics.update(self.evaluate())
        return metrics

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Loss and next-token accuracy on the whole validation file, over every rank."""
        from services.training.trainer.evaluate import score_batches, token_scores

        self.engine.eval()
        totals = torch.zeros(3, dtype=torch.float64, device=self.engine.device)
        for batch, real in score_batches(len(self.valid.examples), self.rank, self.world,
                                         self.hp.micro_batch_size):
            inputs = model_inputs([self.valid.examples[i] for i in batch], self.pad_id,
                                  self.hp.packing, self.engine.device, self.dtype)
            # Stand-in batches still run: ZeRO-3 gathers the weights in every forward.
            logits = self.engine(**inputs, use_cache=False).logits
            if real:
                totals += token_scores(logits, inputs["labels"])
        self.engine.train()
        dist.all_reduce(totals)
        loss_sum, correct, count = totals.tolist()
        return {"valid_loss": round(loss_sum / max(count, 1), 6),
                "valid_mean_token_accuracy": round(correct / max(count, 1), 6)}

    def _log_metrics(self, step: int, epoch: float, learning_rate: float) -> None:
        train_s = self._train_seconds()
        done_here = step - self._first_step()
        eta = (self.total_steps - step) * self._since(self.train_started) / done_here \
            if done_here > 0 else None
        grad_norm = self.engine.get_global_grad_norm()
        self.report.emit(
            "metrics", step=step, total_steps=self.total_steps, epoch=round(epoch, 4),
            loss=round(self.last_loss, 6),
            train_mean_token_accuracy=round(self.last_accuracy, 6),
            learning_rate=learning_rate,
            grad_norm=None if grad_norm is None else round(float(grad_norm), 6),
            tokens_per_second=round(self.trained_tokens_here / self._since(self.train_started),
                                    1),
            elapsed_s=round(train_s, 2), eta_s=None if eta is None else round(eta, 1))

    def _first_step(self) -> int:
        return self.position_at_start.step

    def _train_seconds(self) -> float:
        """Training time of the whole run, across pauses."""
        return self.position_at_start.elapsed_s + self._since(self.started)

    @property
    def trained_tokens_here(self) -> int:
        return self.trained_tokens - self.position_at_start.trained_tokens

    def _account(self, outputs, inputs: dict, step: int) -> None:
        """Token-weighted loss and accuracy over all ranks; stop every rank on a non-finite loss.

        The same all-reduce carries rank 0's pause request, so every rank sees it at once.
        """
        from services.training.trainer.evaluate import correct_tokens

        labels = inputs["labels"]
        trained = (labels[:, 1:] != -100).sum()
        pause = float(self.rank == 0 and self.cfg.control_file is not None
                      and self.cfg.control_file.exists())
        # Stays on the rank's device: NCCL reduces only CUDA tensors.
        stats = torch.stack([outputs.loss.detach().float() * trained, trained.float(),
                             input_tokens(inputs).float(),
                             correct_tokens(outputs.logits.detach(), labels).float(),
                             torch.tensor(pause, device=trained.device)])
        dist.all_reduce(stats)
        self.last_loss = (stats[0] / stats[1]).item()
        self.last_accuracy = (stats[3] / stats[1]).item()
        self.trained_tokens += int(stats[2].item())
        self.pause_requested = self.pause_requested or stats[4].item() > 0
        if not math.isfinite(self.last_loss):
            raise Diverged(f"the training loss became {self.last_loss} at step {step}")

    def save(self) -> None:
        """Gather the full weights and save them with the base model's tokenizer on rank 0."""
        from services.training.trainer.export import full_state_dict, save_model

        metrics = self._checkpoint_metrics()
        state = full_state_dict(self.engine, self.hp.zero_stage)
        if self.rank == 0:
            save_model(state, self.cfg.model_dir, self.cfg.output_dir, self.lora_config())
            self.report.message(
                f"Saved the fine-tuned model; the run took {self._since(self.started):.1f}s")
            self.report.emit("result", trained_tokens=self.trained_tokens,
                             train_loss=self.last_loss, steps=self.total_steps, metrics=metrics)
        dist.barrier()

    def cleanup(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    @staticmethod
    def _since(start: float) -> float:
        return max(time.monotonic() - start, 1e-6)


def main(argv: list[str] | None = None) -> int:
    # DeepSpeed calls deprecated torch collectives on every step; the warning repeats per call
    # and would bury everything else in the rank log.
    warnings.filterwarnings("ignore", message=r"`torch\.distributed\.\w+` is deprecated",
                            category=FutureWarning)
    parser = argparse.ArgumentParser(description="One DeepSpeed training rank.")
    parser.add_argument("--config", type=Path, required=True, help="run config JSON")
    args = parser.parse_args(argv)
    report = Reporter(int(os.environ.get("RANK", "0")) == 0)
    trainer = None
    try:
        trainer = Trainer(RunConfig.load(args.config))
        trainer.setup()
        trainer.train()
        trainer.save()
        return 0
    except Paused as e:
        report.emit("paused", step=e.args[0])
        return 0
    except DataError as e:
        what = e.param.replace("_", " ")
        report.error("invalid_file", f"Invalid {what}: {e}", e.param)
    except Diverged as e:
        report.error("invalid_argument", f"Training stopped: {e}. Try a lower learning_rate.",
                     "hyperparameters.learning_rate")
    except Exception as e:  # noqa: BLE001 - reported to the service, traceback to stderr
        traceback.print_exc()
        report.error("internal", f"Training failed: {type(e).__name__}: {e}")
    finally:
        if trainer is not None:
            trainer.cleanup()
    return 1


if __name__ == "__main__":
    sys.exit(main())
