"""The public fine-tuning job body: OpenAI's method.supervised form, "auto" values, LoRA lists."""

import pytest

from gateway.api.fine_tuning.protocol import CreateFineTuningJob
from services.common.errors import TuneForgeError


def body(**fields) -> CreateFineTuningJob:
    return CreateFineTuningJob(model="tiny-qwen2", training_file="file-1", **fields)


def test_method_supervised_hyperparameters_reach_the_service():
    job = body(method={"type": "supervised",
                       "supervised": {"hyperparameters": {"n_epochs": 2, "lora_r": 8}}})
    hp = job.chosen_hyperparameters().to_pb()
    assert (hp.n_epochs, hp.lora_r) == (2, 8)


def test_auto_values_are_left_for_the_service_to_fill():
    hp = body(hyperparameters={"n_epochs": "auto", "batch_size": "auto",
                               "learning_rate_multiplier": "auto"}).chosen_hyperparameters()
    pb = hp.to_pb()
    assert not pb.HasField("n_epochs") and not pb.HasField("batch_size")
    assert not pb.HasField("learning_rate_multiplier")


def test_lora_target_modules_may_be_a_list():
    pb = body(hyperparameters={"lora_r": 4, "lora_target_modules": ["q_proj", "v_proj"]}) \
        .chosen_hyperparameters().to_pb()
    assert pb.lora_target_modules == "q_proj,v_proj"


def test_hyperparameters_in_both_places_are_refused_naming_method():
    job = body(hyperparameters={"n_epochs": 1},
               method={"supervised": {"hyperparameters": {"n_epochs": 2}}})
    with pytest.raises(TuneForgeError) as e:
        job.chosen_hyperparameters()
    assert (e.value.code, e.value.param) == ("invalid_argument", "method")
    assert "not both" in e.value.message
