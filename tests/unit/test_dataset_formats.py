"""Format detection: every accepted input becomes the same canonical JSONL."""

import json

import pytest

from services.dataset.formats import Limits
from services.dataset.validation import convert

LIMITS = Limits(max_line_bytes=64 * 1024)

SEED_RECORDS = [
    {"id": "112720", "source": "cot", "conversations": [
        {"from": "user", "value": "你好"},
        {"from": "assistant", "value": "您好，我是小智，一个由360智汇云开发的 AI 助手。"}]},
    {"id": "55381", "source": "grad_1_6", "conversations": [
        {"from": "system", "value": "You are Xiaozhi."},
        {"from": "user", "value": "你是谁"},
        {"from": "assistant", "value": "我是小智。"}]},
]
CANONICAL = [
    {"id": "112720", "messages": [
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "您好，我是小智，一个由360智汇云开发的 AI 助手。"}]},
    {"id": "55381", "messages": [
        {"role": "system", "content": "You are Xiaozhi."},
        {"role": "user", "content": "你是谁"},
        {"role": "assistant", "content": "我是小智。"}]},
]


def run(tmp_path, data: bytes):
    src, out = tmp_path / "upload", tmp_path / "canonical.jsonl"
    src.write_bytes(data)
    summary = convert(src, out, LIMITS)
    return summary, [json.loads(line) for line in out.read_text("utf-8").splitlines()]


def jsonl(records) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def test_seed_json_array_is_detected_and_converted(tmp_path):
    data = json.dumps(SEED_RECORDS, ensure_ascii=False, indent=2).encode()
    summary, records = run(tmp_path, data)
    assert (summary.format, summary.num_examples) == ("conversations-json", 2)
    assert records == CANONICAL


def test_seed_jsonl_is_detected_and_converted(tmp_path):
    summary, records = run(tmp_path, jsonl(SEED_RECORDS))
    assert (summary.format, summary.num_examples) == ("conversations-jsonl", 2)
    assert records == CANONICAL


def test_sharegpt_human_and_gpt_become_user_and_assistant(tmp_path):
    rec = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}
    summary, records = run(tmp_path, jsonl([rec]))
    assert summary.format == "conversations-jsonl"
    assert records == [{"id": "line-1", "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]


def test_openai_messages_keep_their_weights(tmp_path):
    rec = {"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "5", "weight": 0},
        {"role": "user", "content": "Again?"},
        {"role": "assistant", "content": "4", "weight": 1}]}
    summary, records = run(tmp_path, jsonl([rec, rec | {"id": 7}]))
    assert (summary.format, summary.num_examples) == ("messages-jsonl", 2)
    assert [r["id"] for r in records] == ["line-1", "7"]
    assert records[0]["messages"] == rec["messages"]


def test_records_without_id_in_an_array_are_named_by_index(tmp_path):
    rec = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    summary, records = run(tmp_path, json.dumps([rec, rec]).encode())
    assert summary.format == "messages-json"
    assert [r["id"] for r in records] == ["index-0", "index-1"]


def test_utf8_bom_is_accepted_in_jsonl_and_json_array(tmp_path):
    bom = b"\xef\xbb\xbf"
    assert run(tmp_path, bom + jsonl(SEED_RECORDS))[1] == CANONICAL
    assert run(tmp_path, bom + json.dumps(SEED_RECORDS).encode())[1] == CANONICAL


def test_crlf_line_ends_and_blank_lines_are_accepted(tmp_path):
    data = jsonl(SEED_RECORDS).replace(b"\n", b"\r\n") + b"\r\n"
    summary, records = run(tmp_path, data)
    assert summary.num_examples == 2
    assert records == CANONICAL


def test_content_is_kept_exactly_including_whitespace(tmp_path):
    rec = {"conversations": [{"from": "user", "value": "  line one\nline two  "},
                             {"from": "assistant", "value": "ok\n"}]}
    _, records = run(tmp_path, jsonl([rec]))
    assert records[0]["messages"][0]["content"] == "  line one\nline two  "


def test_example_files_in_the_repository_are_valid(tmp_path):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    for name, fmt in (("self_cognition.json", "conversations-json"),
                      ("self_cognition.jsonl", "conversations-jsonl")):
        summary = convert(examples / name, tmp_path / "out.jsonl", LIMITS)
        assert summary.format == fmt and summary.num_examples > 0


def test_large_single_line_json_array_streams_with_right_indexes_lines_and_columns(tmp_path):
    from services.common.errors import TuneForgeError

    rec = {"messages": [{"role": "user", "content": "问题 " * 40},
                        {"role": "assistant", "content": "answer " * 40}]}
    items = [json.dumps(rec | {"id": n}, ensure_ascii=False) for n in range(12_000)]
    good = "[" + ",".join(items) + "]"
    assert len(good.encode()) > 5 * 1024 * 1024, "past the reader's read and trim sizes"
    summary, records = run(tmp_path, good.encode())
    assert (summary.format, summary.num_examples) == ("messages-json", 12_000)
    assert [r["id"] for r in records[-2:]] == ["11998", "11999"]

    bad = good[:-1] + ', {"id": 1'  # a last item cut short, far into line 1
    (tmp_path / "in").write_bytes(bad.encode())
    with pytest.raises(TuneForgeError) as e:
        convert(tmp_path / "in", tmp_path / "out", LIMITS)
    assert e.value.message == (
        "The file has 1 error: line 1: invalid JSON: Expecting ',' delimiter "
        f"(column {len(bad) + 1})")


def test_multi_line_array_reports_items_by_index_and_line(tmp_path):
    from services.common.errors import TuneForgeError

    rec = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    lines = ["["] + [json.dumps(rec) + "," for _ in range(50_000)] + ['{"messages": 3}', "]"]
    (tmp_path / "in").write_text("\n".join(lines))
    with pytest.raises(TuneForgeError) as e:
        convert(tmp_path / "in", tmp_path / "out", LIMITS)
    assert e.value.message == ("The file has 1 error: index 50000 (line 50002): messages: must "
                               "be a list of turns, got a number")
