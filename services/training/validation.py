"""Checking a job request up front: every bad value is reported at once, named by its path."""

import re

from pydantic import ValidationError

from services.common.errors import TuneForgeError
from services.training.trainer.config import Hyperparameters

SUFFIX_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")

Problem = tuple[str, str]  # (parameter path, what is wrong)


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
    try:
        hp = Hyperparameters.model_validate(merged)
    except ValidationError as err:
        problems = _field_problems(err, merged)
        bad = {p.removeprefix("hyperparameters.") for p, _ in problems}
        return None, problems + _combined_problems(merged, bad, context_length, max_ranks)
    return hp, _combined_problems(merged, set(), context_length, max_ranks)


def _combined_problems(hp: dict, bad: set[str], context_length: int,
                       max_ranks: int) -> list[Problem]:
    """Rules between values, checked only where the values themselves are valid."""
    problems = []
    if not bad & {"num_gpus"} and hp["num_gpus"] > max_ranks:
        problems.append(("hyperparameters.num_gpus",
                         f"must be at most {max_ranks}, the ranks this host can run "
                         f"(got {hp['num_gpus']})"))
    if not bad & {"batch_size", "num_gpus"} and hp["batch_size"] % hp["num_gpus"]:
        problems.append(("hyperparameters.batch_size",
                         f"must be a multiple of num_gpus={hp['num_gpus']}, as every rank takes "
                         f"an equal share of the batch (got {hp['batch_size']})"))
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
