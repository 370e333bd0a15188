"""Training data inside a rank: checking records, splitting batches over ranks, padding."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from services.common.chat import IGNORE_INDEX, TokenizedExample, tokenize_for_training
from services.training.trainer.data import (DataError, block_causal_mask, collate, input_tokens,
                                            load_dataset, model_inputs, pack, rank_batches,
                                            steps_per_epoch)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def chat(i: int) -> dict:
    return {"id": f"ex{i}", "messages": [{"role": "user", "content": f"question {i}"},
                                         {"role": "assistant", "content": f"answer {i}"}]}


def test_records_are_tokenized_with_loss_on_assistant_turns_only(tmp_path, tiny_tokenizer):
    data = load_dataset(write_jsonl(tmp_path / "t.jsonl", [chat(1), chat(2)]), tiny_tokenizer, 64)
    assert len(data.examples) == 2
    ex = data.examples[0]
    trained = tiny_tokenizer.decode([t for t, lab in zip(ex.input_ids, ex.labels)
                                     if lab != IGNORE_INDEX])
    assert trained == "answer 1<|im_end|>"


def test_long_records_are_truncated_and_counted(tmp_path, tiny_tokenizer):
    long = {"id": "long", "messages": [{"role": "user", "content": "hi"},
                                       {"role": "assistant", "content": "word " * 200}]}
    data = load_dataset(write_jsonl(tmp_path / "t.jsonl", [long]), tiny_tokenizer, 32)
    assert data.num_truncated == 1 and len(data.examples[0].input_ids) == 32


def test_record_with_nothing_left_to_train_after_truncation_is_skipped(tmp_path, tiny_tokenizer):
    prompt_only = {"id": "p", "messages": [{"role": "user", "content": "word " * 100},
                                           {"role": "assistant", "content": "ok"}]}
    data = load_dataset(write_jsonl(tmp_path / "t.jsonl", [prompt_only, chat(1)]),
                        tiny_tokenizer, 24)
    assert (data.num_skipped, len(data.examples)) == (1, 1)


@pytest.mark.parametrize("record, expected", [
    ({"id": "a", "messages": []}, "line 2 (id 'a'): 'messages' must be a non-empty list"),
    ({"id": "b", "messages": [{"role": "robot", "content": "x"}]},
     "line 2 (id 'b'): messages[0].role must be one of system, user, assistant"),
    ({"id": "c", "messages": [{"role": "user", "content": 3}]},
     "line 2 (id 'c'): messages[0].content must be a string"),
    ({"id": "d", "messages": [{"role": "assistant", "content": "x", "weight": 2}]},
     "line 2 (id 'd'): messages[0].weight must be 0 or 1"),
    ({"id": "e", "messages": [{"role": "user", "content": "x"},
                              {"role": "assistant", "content": "y", "weight": 0}]},
     "line 2 (id 'e'): no assistant message to train on"),
])
def test_bad_record_is_refused_naming_its_line_and_field(tmp_path, tiny_tokenizer, record,
                                                          expected):
    path = write_jsonl(tmp_path / "t.jsonl", [chat(1), record])
    with pytest.raises(DataError) as e:
        load_dataset(path, tiny_tokenizer, 64)
    assert str(e.value) == expected


def test_line_that_is_not_json_is_refused(tmp_path, tiny_tokenizer):
    (tmp_path / "t.jsonl").write_text('{"id": 1,\n')
    with pytest.raises(DataError, match="line 1: not valid JSON"):
        load_dataset(tmp_path / "t.jsonl", tiny_tokenizer, 64)


def test_ranks_see_disjoint_shares_of_one_epoch_and_the_same_number_of_batches():
    rank0 = rank_batches(10, epoch=0, seed=7, rank=0, world=2, micro_batch=2)
    rank1 = rank_batches(10, epoch=0, seed=7, rank=1, world=2, micro_batch=2)
    seen0, seen1 = sum(rank0, []), sum(rank1, [])
    assert len(rank0) == len(rank1) == steps_per_epoch(10, 2, 2) == 3
    assert set(seen0).isdisjoint(seen1) and set(seen0) | set(seen1) == set(range(10))


def test_uneven_split_pads_by_repeating_so_every_rank_takes_as_many_steps():
    batches = [rank_batches(5, 0, 1, r, 2, 2) for r in (0, 1)]
    assert [len(b) for b in batches] == [2, 2]
    assert sorted(sum(batches[0] + batches[1], [])) != list(range(5))  # one example repeated
    assert set(sum(batches[0] + batches[1], [])) == set(range(5))


def test_shuffle_is_the_same_for_a_seed_and_differs_between_epochs():
    assert rank_batches(20, 0, 3, 0, 1, 4) == rank_batches(20, 0, 3, 0, 1, 4)
    assert rank_batches(20, 0, 3, 0, 1, 4) != rank_batches(20, 1, 3, 0, 1, 4)
    assert rank_batches(20, 0, 3, 0, 1, 4) != rank_batches(20, 0, 4, 0, 1, 4)


def test_batches_are_padded_to_their_longest_example_with_padding_out_of_the_loss():
    batch = collate([TokenizedExample([5, 6, 7], [-100, 6, 7], 2, False),
                     TokenizedExample([8], [8], 1, False)], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]


def test_packed_batch_is_one_row_whose_positions_restart_at_each_conversation():
    batch = pack([TokenizedExample([5, 6, 7], [-100, 6, 7], 2, False),
                  TokenizedExample([8, 9], [8, 9], 2, False)])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    assert batch["labels"].tolist() == [[-100, 6, 7, -100, 9]], "no label across a boundary"


def test_block_mask_lets_each_token_see_only_earlier_tokens_of_its_own_conversation():
    mask = block_causal_mask(torch.tensor([[0, 1, 0, 1, 2]]), torch.float32)
    allowed = (mask[0, 0] == 0).int().tolist()
    assert allowed == [[1, 0, 0, 0, 0],
                       [1, 1, 0, 0, 0],
                       [0, 0, 1, 0, 0],
                       [0, 0, 1, 1, 0],
                       [0, 0, 1, 1, 1]]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_conversations_get_the_logits_and_loss_they_get_alone(tiny_model_dir,
                                                                     tiny_tokenizer, attention):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32,
                                                 attn_implementation=attention)
    examples = [tokenize_for_training(tiny_tokenizer, chat(i)["messages"], 64) for i in (1, 22)]
    packed = model_inputs(examples, 0, True, torch.device("cpu"), torch.float32)
    with torch.no_grad():
        logits = model(**{k: v for k, v in packed.items() if k != "labels"},
                       use_cache=False).logits[0]
        start = 0
        for e in examples:
            alone = model(input_ids=torch.tensor([e.input_ids]), use_cache=False).logits[0]
            end = start + len(e.input_ids)
            torch.testing.assert_close(logits[start:end], alone, atol=1e-5, rtol=1e-5)
            start = end
        padded = model(**model_inputs(examples, 0, False, torch.device("cpu"), torch.float32),
                       use_cache=False).loss
        assert model(**packed, use_cache=False).loss.item() == pytest.approx(padded.item(),
                                                                             rel=1e-5)


def test_input_tokens_count_real_tokens_packed_or_padded():
    examples = [TokenizedExample([5, 6, 7], [-100, 6, 7], 2, False),
                TokenizedExample([8], [8], 1, False)]
    cpu = torch.device("cpu")
    for packing in (True, False):
        assert input_tokens(model_inputs(examples, 0, packing, cpu, torch.float32)) == 4
