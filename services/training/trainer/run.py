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
from pathlib import Path

import torch
import torch.distributed as dist

from services.training.trainer.config import RunConfig
from services.training.trainer.data import DataError, input_tokens, load_dataset, \
    model_inputs, rank_batches, steps_per_epoch
from services.training.trainer.report import Reporter
from services.training.trainer.schedule import lr_multiplier, warmup_steps


class Diverged(RuntimeError):
    """The loss stopped being a finite number."""


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
            optimizer=self._optimizer(model),
            lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, factor),
            config=str(self.cfg.deepspeed_config),
        )
        # The packed attention mask must match the dtype DeepSpeed runs the model in.
        self.dtype = torch.bfloat16 if self.engine.bfloat16_enabled() else torch.float32

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

    def _optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        # No decay on biases and norm weights, as is usual for transformers.
        params = [p for p in model.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.ndim >= 2], "weight_decay": self.hp.weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
        ]
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=self.hp.learning_rate,
                                 betas=(self.hp.adam_beta1, self.hp.adam_beta2),
                                 eps=self.hp.adam_epsilon)

    def train(self) -> None:
        """Every epoch, every batch, one optimizer step each; metrics every logging_steps."""
        step, examples = 0, self.data.examples
        self.train_started = time.monotonic()
        for epoch in range(self.hp.n_epochs):
            self.report.message(f"Starting epoch {epoch + 1}/{self.hp.n_epochs}")
            batches = rank_batches(len(examples), epoch, self.cfg.seed, self.rank, self.world,
                                   self.hp.micro_batch_size)
            for index, batch in enumerate(batches):
                inputs = model_inputs([examples[i] for i in batch], self.pad_id,
                                      self.hp.packing, self.engine.device, self.dtype)
                learning_rate = self.engine.get_lr()[0]
                loss = self.engine(**inputs, use_cache=False).loss
                self.engine.backward(loss)
                boundary = self.engine.is_gradient_accumulation_boundary()
                self.engine.step()
                self._account(loss, inputs, step + 1)
                if not boundary:
                    continue
                step += 1
                if step % self.hp.logging_steps == 0 or step == self.total_steps:
                    self._log_metrics(step, epoch + (index + 1) / len(batches), learning_rate)

    def _log_metrics(self, step: int, epoch: float, learning_rate: float) -> None:
        self.report.emit(
            "metrics", step=step, total_steps=self.total_steps, epoch=round(epoch, 4),
            loss=round(self.last_loss, 6), learning_rate=learning_rate,
            tokens_per_second=round(self.trained_tokens / self._since(self.train_started), 1),
            elapsed_s=round(self._since(self.started), 2))

    def _account(self, loss: torch.Tensor, inputs: dict, step: int) -> None:
        """Token-weighted loss over all ranks; stop every rank at once on a non-finite loss."""
        trained = (inputs["labels"][:, 1:] != -100).sum()
        # Stays on the rank's device: NCCL reduces only CUDA tensors.
        stats = torch.stack([loss.detach().float() * trained, trained.float(),
                             input_tokens(inputs).float()])
        dist.all_reduce(stats)
        self.last_loss = (stats[0] / stats[1]).item()
        self.trained_tokens += int(stats[2].item())
        if not math.isfinite(self.last_loss):
            raise Diverged(f"the training loss became {self.last_loss} at step {step}")

    def save(self) -> None:
        """Gather the full weights and save them with the base model's tokenizer on rank 0."""
        from services.training.trainer.export import full_state_dict, save_model

        state = full_state_dict(self.engine, self.hp.zero_stage)
        if self.rank == 0:
            save_model(state, self.cfg.model_dir, self.cfg.output_dir, self.lora_config())
            self.report.message(
                f"Saved the fine-tuned model; the run took {self._since(self.started):.1f}s")
            self.report.emit("result", trained_tokens=self.trained_tokens,
                             train_loss=self.last_loss, steps=self.total_steps)
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
    except DataError as e:
        report.error("invalid_file", f"Invalid training file: {e}", "training_file")
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
