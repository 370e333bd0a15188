"""LoRA adapters in the registry: registered against their base, merged into full weights that
give the logits of base + adapter, refused for a quantised base."""

import io
import json
import shutil
import tarfile

import grpc
import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from services.common.chat import tokenize_prompt
from services.registry.tiny_model import build_tiny_model
from tests.integration.registry_stack import registry, registry_settings, rpc_error
from tuneforge.v1 import registry_pb2 as pb

BASE = "tiny-qwen2"
ADAPTER = "ft:tiny-qwen2:lora:abc12345"
MESSAGES = [{"role": "user", "content": "你是谁"}]


@pytest.fixture(scope="module")
def imports(tmp_path_factory):
    """tiny-qwen2, a LoRA adapter of it with non-zero weights, and a 'quantised' copy."""
    root = tmp_path_factory.mktemp("imports")
    base_dir = build_tiny_model(root / BASE)
    torch.manual_seed(0)
    # init_lora_weights=False draws B at random too, so the adapter changes the logits.
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir), config).save_pretrained(
        root / "adapter")
    quantised = shutil.copytree(base_dir, root / "tiny-gptq")
    config_file = quantised / "config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()),
                                       "quantization_config": {"quant_method": "gptq"}}))
    return root


@pytest.fixture
async def reg(tmp_path, imports, nats_url, event_prefix, database_url):
    settings = registry_settings(tmp_path, nats_url, event_prefix, database_url,
                                 import_dirs=[imports])
    async with registry(settings) as r:
        await r.stub.RegisterModel(pb.RegisterModelRequest(id=BASE, source=str(imports / BASE)))
        yield r


def logits(model, tokenizer) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([tokenize_prompt(tokenizer, MESSAGES)])).logits[0]


async def test_merged_adapter_gives_the_logits_of_base_plus_adapter(reg, imports, tmp_path):
    adapter = await reg.stub.RegisterModel(pb.RegisterModelRequest(
        id=ADAPTER, kind="fine-tuned", parent=BASE, source=str(imports / "adapter"),
        lineage=pb.Lineage(job_id="ftjob-lora")))
    assert (adapter.status, adapter.format, adapter.root) == ("ready", "lora", BASE)
    assert adapter.architecture == "Qwen2ForCausalLM" and 0 < adapter.num_parameters < 100_000

    merged = await reg.stub.MergeAdapter(pb.MergeAdapterRequest(id=ADAPTER))

    assert (merged.id, merged.status, merged.format, merged.parent) == (
        f"{ADAPTER}:merged", "ready", "full", BASE)
    assert (merged.name, merged.version) == (adapter.name, adapter.version + 1)
    assert (merged.lineage.merged_from, merged.lineage.job_id) == (ADAPTER, "ftjob-lora")
    archive = b"".join([c.data async for c in reg.stub.ExportModel(
        pb.ExportModelRequest(id=merged.id))])
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path, filter="data")
    merged_dir = tmp_path / "ft-tiny-qwen2-lora-abc12345-merged"
    assert (merged_dir / "model.safetensors").is_file()
    assert not (merged_dir / "adapter_config.json").exists()
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    expected = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(imports / BASE),
                                         imports / "adapter")
    unmerged = logits(expected, tokenizer)
    assert (unmerged - logits(AutoModelForCausalLM.from_pretrained(imports / BASE),
                              tokenizer)).abs().max() > 1e-2  # the adapter matters
    torch.testing.assert_close(logits(AutoModelForCausalLM.from_pretrained(merged_dir),
                                      tokenizer), unmerged, atol=1e-4, rtol=1e-4)


async def test_merge_into_a_quantised_base_is_refused_with_the_reason(reg, imports):
    await reg.stub.RegisterModel(pb.RegisterModelRequest(
        id="tiny-gptq", source=str(imports / "tiny-gptq")))
    await reg.stub.RegisterModel(pb.RegisterModelRequest(
        id="gptq-adapter", kind="fine-tuned", parent="tiny-gptq",
        source=str(imports / "adapter")))

    with pytest.raises(grpc.aio.AioRpcError) as e:
        await reg.stub.MergeAdapter(pb.MergeAdapterRequest(id="gptq-adapter"))

    assert rpc_error(e.value) == (
        "invalid_argument", "model", "The adapter 'gptq-adapter' cannot be merged into its base "
        "'tiny-gptq': the base is quantised with gptq, and a merge needs full-precision weights. "
        "Deploy the adapter on its base instead.")


async def test_merging_a_full_weight_model_is_refused(reg):
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await reg.stub.MergeAdapter(pb.MergeAdapterRequest(id=BASE))
    assert rpc_error(e.value) == ("invalid_argument", "model", f"The model '{BASE}' is not a "
                                  "LoRA adapter (format full); only an adapter can be merged.")


async def test_lora_adapter_without_a_parent_is_refused(reg, imports):
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await reg.stub.RegisterModel(pb.RegisterModelRequest(
            id="orphan", source=str(imports / "adapter")))
    code, param, _ = rpc_error(e.value)
    assert (code, param) == ("invalid_argument", "parent")
