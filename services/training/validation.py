"""Checking a job request up front: every bad value is reported at once, named by its path."""

import re

from pydantic import ValidationError

from services.common.errors import TuneForgeError
from services.training.trainer.config import Hyperparameters

SUFFIX_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")

Problem = tuple[str, str]  # (parameter path, what is wrong)
_LORA_ONLY = ("lora_alpha", "lora_dropout", "lora_target_modules")


def _field_problems(err: ValidationError, given: dict) -> list[Problem]:
    problems = []
    for e in err.errors():
        name = str(e["loc"][0]) if e["loc"] else "hyperparameters"
        what = e["msg"].replace("Input should be", "must be")
        value = given.get(name, e.get("input"))
        problems.append((f"hyperparameters.{name}", f"{what} (got {value!r})"))
    return problems


def resolve_hyperparameters(requested: dict, defaults: Hyperparameters, context_length: int,
                            max_ranks: int) -> tuple[Hyperparameters | None, list[Problem]]:
    """Fill unset values from `defaults`, then check every value and how they combine."""
    merged = {**defaults.model_dump(), **requested}
    if "model_max_length" not in requested and context_length:
        merged["model_max_length"] = min(defaults.model_max_length, context_length)
    problems = _derive(requested, merged, defaults)
    if problems:
        # A conflict makes the derived values meaningless; still check every value on its own.
        hp, more = resolve_hyperparameters({k: v for k, v in requested.items()
                                            if k not in {p.split(".")[1] for p, _ in problems}},
                                           defaults, context_length, max_ranks)
        return None, problems + more
    try:
        hp = Hyperparameters.model_validate(merged)
    except ValidationError as err:
        problems = _field_problems(err, merged)
        bad = {p.removeprefix("hyperparameters.") for p, _ in problems}
        return None, problems + _combined_problems(merged, requested, bad,
                                                   context_length, max_ranks)
    problems = _combined_problems(merged, requested, set(), context_length,
                                  max_ranks)
    if hp.per_device_train_batch_size is None and not problems:
        hp = hp.model_copy(update={"per_device_train_batch_size": hp.micro_batch_size})
    return hp, problems


def _derive(requested: dict, merged: dict, defaults: Hyperparameters) -> list[Problem]:
    """Fill values that follow from others (in `merged`); conflicting pairs are problems."""
    problems: list[Problem] = []
    multiplier = requested.get("learning_rate_multiplier")
    if multiplier is not None and "learning_rate" in requested:
        problems.append(("hyperparameters.learning_rate_multiplier",
                         "conflicts with learning_rate; set only one of them"))
    elif isinstance(multiplier, (int, float)) and multiplier > 0:
        merged["learning_rate"] = defaults.learning_rate * multiplier
    per_device = requested.get("per_device_train_batch_size")
    ints = all(isinstance(merged.get(k), int) for k in ("num_gpus", "gradient_accumulation_steps"))
    if isinstance(per_device, int) and per_device > 0 and ints:
        implied = per_device * merged["num_gpus"] * merged["gradient_accumulation_steps"]
        if "batch_size" in requested and requested["batch_size"] != implied:
            problems.append(("hyperparameters.per_device_train_batch_size",
                             f"x num_gpus x gradient_accumulation_steps = {implied} conflicts "
                             f"with batch_size={requested['batch_size']}; set one of them"))
        else:
            merged["batch_size"] = implied
    return problems


def _combined_problems(hp: dict, requested: dict, bad: set[str], context_length: int,
                       max_ranks: int) -> list[Problem]:
    """Rules between values, checked only where the values themselves are valid."""
    problems = []
    one_node = bad & {"num_nodes"} or hp["num_nodes"] == 1  # else: the cluster's hosts decide
    if not bad & {"num_gpus"} and one_node and hp["num_gpus"] > max_ranks:
        problems.append(("hyperparameters.num_gpus",
                         f"must be at most {max_ranks}, the ranks this host can run "
                         f"(got {hp['num_gpus']})"))
    if not bad & {"batch_size", "num_gpus", "gradient_accumulation_steps"} and \
            hp["batch_size"] % (hp["num_gpus"] * hp["gradient_accumulation_steps"]):
        problems.append(("hyperparameters.batch_size",
                         f"must be a multiple of num_gpus x gradient_accumulation_steps = "
                         f"{hp['num_gpus'] * hp['gradient_accumulation_steps']}, as every rank "
                         f"takes an equal share of the batch (got {hp['batch_size']})"))
    if not bad & {"lora_r"} and hp["lora_r"] == 0:
        problems += [(f"hyperparameters.{name}", "applies only to LoRA; set lora_r > 0 too")
                     for name in _LORA_ONLY if name in requested and name not in bad]
    if not bad & {"offload_param", "zero_stage"} and hp["offload_param"] and \
            hp["zero_stage"] != 3:
        problems.append(("hyperparameters.offload_param",
                         f"needs zero_stage=3, the only stage that partitions parameters "
                         f"(got zero_stage={hp['zero_stage']})"))
    if not bad & {"offload_optimizer", "zero_stage"} and hp["offload_optimizer"] and \
            hp["zero_stage"] == 0:
        problems.append(("hyperparameters.offload_optimizer",
                         "needs zero_stage 1, 2 or 3, which partition the optimizer states"))
    if not bad & {"model_max_length"} and context_length and \
            hp["model_max_length"] > context_length:
        problems.append(("hyperparameters.model_max_length",
                         f"must be at most the model's context length {context_length} "
                         f"(got {hp['model_max_length']})"))
    return problems


def suffix_problems(suffix: str) -> list[Problem]:
    if suffix and not SUFFIX_RE.fullmatch(suffix):
        return [("suffix", f"must be at most 40 characters of letters, digits, '_' and '-' "
                           f"(got {suffix!r})")]
    return []


def raise_problems(problems: list[Problem]) -> None:
    """One invalid_argument error naming the first parameter and listing every problem."""
    if problems:
        listed = "; ".join(f"{param} {what}" for param, what in problems)
        raise TuneForgeError("invalid_argument", f"Invalid fine-tuning job: {listed}.",
                             problems[0][0])
