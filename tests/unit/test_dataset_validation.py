"""Validation rules: each problem names its record, field path and what is wrong."""

import json

import pytest

from services.common.errors import TuneForgeError
from services.dataset.formats import Limits
from services.dataset.validation import convert

LIMITS = Limits(max_line_bytes=4096)
GOOD = {"conversations": [{"from": "user", "value": "你好"},
                          {"from": "assistant", "value": "您好，我是小智。"}]}


def refusal(tmp_path, data: bytes | str, limits: Limits = LIMITS) -> str:
    """The message of the invalid_file error the file gets."""
    src, out = tmp_path / "upload", tmp_path / "canonical.jsonl"
    src.write_bytes(data.encode() if isinstance(data, str) else data)
    with pytest.raises(TuneForgeError) as e:
        convert(src, out, limits)
    assert (e.value.code, e.value.param) == ("invalid_file", "file")
    return e.value.message


def lines(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                   for r in records)


def turns(*pairs, field="conversations", role="from", content="value"):
    return {field: [{role: r, content: c} for r, c in pairs]}


def test_unknown_role_is_reported_with_line_and_turn(tmp_path):
    bad = turns(("user", "a"), ("assistant", "b"), ("user", "c"), ("bot", "d"))
    message = refusal(tmp_path, lines(*[GOOD] * 16, bad))
    assert message == ('The file has 1 error: line 17: conversations[3].from: '
                       'unknown role "bot" (expected user, assistant or system)')


def test_invalid_json_line_is_reported_with_column(tmp_path):
    message = refusal(tmp_path, lines(GOOD, '{"conversations": [}'))
    assert message.startswith("The file has 1 error: line 2: invalid JSON: Expecting value")
    assert "(column 20)" in message


def test_invalid_json_in_an_array_is_reported_with_its_line(tmp_path):
    data = "[\n" + json.dumps(GOOD) + ',\n{"id": }\n]'
    assert refusal(tmp_path, data) == (
        "The file has 1 error: line 3: invalid JSON: Expecting value (column 8)")


def test_record_that_is_not_an_object_is_refused(tmp_path):
    assert refusal(tmp_path, lines(GOOD, "[1, 2]")) == (
        "The file has 1 error: line 2: expected a JSON object, got an array")


def test_array_item_that_is_not_an_object_names_its_index(tmp_path):
    data = "[\n" + json.dumps(GOOD) + ",\n\"text\"\n]"
    assert refusal(tmp_path, data) == (
        "The file has 1 error: index 1 (line 3): expected a JSON object, got a string")


def test_missing_conversations_is_refused(tmp_path):
    assert refusal(tmp_path, lines({"id": "x", "source": "s"})) == (
        'The file has 1 error: line 1: missing "conversations" (or "messages")')


def test_empty_conversations_and_non_list_messages_are_refused(tmp_path):
    assert refusal(tmp_path, lines(GOOD, {"conversations": []})) == (
        "The file has 1 error: line 2: conversations: is empty")
    assert refusal(tmp_path, lines({"messages": "hi"})) == (
        "The file has 1 error: line 1: messages: must be a list of turns, got a string")


def test_record_with_both_formats_is_refused(tmp_path):
    rec = GOOD | {"messages": []}
    assert refusal(tmp_path, lines(rec)) == (
        'The file has 1 error: line 1: has both "conversations" and "messages" (use one)')


def test_system_turn_after_the_first_is_refused(tmp_path):
    bad = turns(("user", "a"), ("system", "be nice"), ("assistant", "b"))
    assert refusal(tmp_path, lines(bad)) == (
        "The file has 1 error: line 1: conversations[1].from: a system turn must come first")


def test_two_user_turns_in_a_row_are_refused(tmp_path):
    bad = turns(("user", "a"), ("human", "again"), ("assistant", "b"))
    assert refusal(tmp_path, lines(GOOD, bad)) == (
        "The file has 1 error: line 2: conversations[1].from: two user turns in a row "
        "(turns must alternate user and assistant)")


def test_conversation_starting_with_the_assistant_is_refused(tmp_path):
    bad = turns(("system", "s"), ("assistant", "hi"), ("user", "a"), ("assistant", "b"))
    assert refusal(tmp_path, lines(bad)) == (
        "The file has 1 error: line 1: conversations[1].from: "
        "the first turn must be from the user, not the assistant")


def test_conversation_without_an_assistant_turn_is_refused(tmp_path):
    assert refusal(tmp_path, lines(turns(("system", "s"), ("user", "a")))) == (
        "The file has 1 error: line 1: conversations: no assistant turn (nothing to learn from)")


def test_empty_content_is_refused(tmp_path):
    assert refusal(tmp_path, lines(turns(("user", "a"), ("assistant", "  \n")))) == (
        "The file has 1 error: line 1: conversations[1].value: is empty")


def test_non_string_and_missing_content_are_refused(tmp_path):
    bad = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]},
                        {"role": "assistant"}]}
    assert refusal(tmp_path, lines(bad)) == (
        "The file has 2 errors: line 1: messages[0].content: must be a string, got an array; "
        "line 1: messages[1].content: missing")


def test_missing_role_and_non_object_turn_are_refused(tmp_path):
    bad = {"conversations": [{"value": "a"}, "hello"]}
    assert refusal(tmp_path, lines(bad)) == (
        "The file has 2 errors: line 1: conversations[0].from: missing; "
        'line 1: conversations[1]: must be an object with "from" and "value", got a string')


def test_duplicate_ids_name_the_first_use(tmp_path):
    message = refusal(tmp_path, lines(GOOD | {"id": "a"}, GOOD | {"id": "b"}, GOOD | {"id": "a"}))
    assert message == ('The file has 1 error: line 3: id: duplicate id "a" '
                       "(first used at line 1)")


def test_id_of_the_wrong_type_is_refused(tmp_path):
    assert refusal(tmp_path, lines(GOOD | {"id": ["a"]})) == (
        "The file has 1 error: line 1: id: must be a string or an integer, got an array")


def test_invalid_utf8_is_reported_with_its_line_and_byte(tmp_path):
    data = lines(GOOD).encode() + b'{"id": "\xff"}\n'
    assert refusal(tmp_path, data) == (
        "The file has 1 error: line 2: not valid UTF-8 (byte 0xff at byte 9 of the line)")


def test_invalid_utf8_in_an_array_is_reported_with_its_line(tmp_path):
    data = b'[\n' + json.dumps(GOOD).encode() + b',\n{"id": "\xfe"}\n]'
    assert refusal(tmp_path, data) == (
        "The file has 1 error: line 3: not valid UTF-8 (byte 0xfe at byte 9 of the line)")


def test_utf16_file_is_refused_with_advice(tmp_path):
    data = b"\xff\xfe" + lines(GOOD).encode("utf-16-le")
    assert refusal(tmp_path, data) == (
        "The file has 1 error: the file is UTF-16 encoded; save it as UTF-8")


def test_unpaired_surrogate_escape_is_refused(tmp_path):
    bad = '{"conversations": [{"from": "user", "value": "a\\ud800"}, ' \
          '{"from": "assistant", "value": "b"}]}'
    assert refusal(tmp_path, lines(bad)) == (
        "The file has 1 error: line 1: conversations[0].value: "
        "contains an unpaired surrogate escape")


def test_line_over_the_size_limit_is_refused_and_the_next_lines_still_checked(tmp_path):
    long = turns(("user", "x" * 5000), ("assistant", "y"))
    message = refusal(tmp_path, lines(GOOD, long, {"conversations": []}))
    size = len(json.dumps(long)) + 1
    assert message == (f"The file has 2 errors: line 2: the line is {size} bytes, over the limit "
                       "of 4096 bytes per line; line 3: conversations: is empty")


def test_array_item_over_the_size_limit_is_refused_and_the_next_items_still_checked(tmp_path):
    long = turns(("user", "x" * 5000), ("assistant", "y"))
    data = json.dumps([GOOD, long, {"conversations": []}], indent=1)
    message = refusal(tmp_path, data)
    assert message.startswith("The file has 2 errors: index 1 (line ")
    assert "bytes, over the limit of 4096 bytes per record; index 2 (line " in message
    assert message.endswith("conversations: is empty")


def test_data_after_the_closing_bracket_is_refused(tmp_path):
    data = json.dumps([GOOD]) + "\n" + json.dumps([GOOD])
    assert refusal(tmp_path, data).startswith(
        "The file has 1 error: line 2: invalid JSON: unexpected data after the closing ']'")


def test_weight_must_be_0_or_1_and_only_on_assistant_messages(tmp_path):
    bad = {"messages": [{"role": "user", "content": "a", "weight": 1},
                        {"role": "assistant", "content": "b", "weight": 0.5}]}
    assert refusal(tmp_path, lines(bad)) == (
        "The file has 2 errors: line 1: messages[0].weight: only assistant messages may have "
        "a weight, not user; line 1: messages[1].weight: must be 0 or 1, got 0.5")


def test_every_assistant_weight_zero_is_refused(tmp_path):
    bad = {"messages": [{"role": "user", "content": "a"},
                        {"role": "assistant", "content": "b", "weight": 0}]}
    assert refusal(tmp_path, lines(bad)) == (
        "The file has 1 error: line 1: messages: every assistant message has weight 0 "
        "(nothing to learn from)")


def test_mixing_formats_in_one_file_is_refused(tmp_path):
    other = turns(("user", "a"), ("assistant", "b"), field="messages", role="role",
                  content="content")
    assert refusal(tmp_path, lines(GOOD, other)) == (
        'The file has 1 error: line 2: messages: the file\'s first record uses '
        '"conversations"; one file cannot mix formats')


def test_file_without_records_is_refused(tmp_path):
    assert refusal(tmp_path, "\n  \n") == "The file has 1 error: the file contains no records"
    assert refusal(tmp_path, "[ ]") == "The file has 1 error: the file contains no records"


def test_message_quotes_the_first_five_problems_and_counts_all(tmp_path):
    message = refusal(tmp_path, lines(GOOD, *["[]"] * 7))
    quoted = "; ".join(f"line {n}: expected a JSON object, got an array" for n in range(2, 7))
    assert message == f"The file has 7 errors; the first 5: {quoted}"


def test_one_bad_turn_does_not_hide_problems_in_other_records(tmp_path):
    message = refusal(tmp_path, lines(turns(("bot", "a"), ("assistant", "b")), GOOD, "{"))
    assert message.startswith('The file has 2 errors: line 1: conversations[0].from: '
                              'unknown role "bot"')
    assert "; line 3: invalid JSON:" in message


def _random_record(rng) -> object:
    """A record that is usually valid, with one of many ways to be wrong now and then."""
    if rng.random() < 0.03:
        return rng.choice([[], "text", 3, None])
    fmt = rng.choice([("conversations", "from", "value"), ("messages", "role", "content")])
    field, role_key, content_key = fmt
    roles = rng.choice([["user", "assistant"], ["human", "gpt"]]) if field == "conversations" \
        else ["user", "assistant"]
    turns = [{role_key: "system", content_key: "be brief"}] if rng.random() < 0.3 else []
    for i in range(rng.randint(1, 6)):
        turns.append({role_key: roles[i % 2], content_key: rng.choice(["hi", "你好", " x "])})
    if rng.random() < 0.5:
        turns = turns if turns[-1][role_key] in ("assistant", "gpt") else turns[:-1] or turns
    if rng.random() < 0.05:
        turns.insert(rng.randrange(1, len(turns) + 1), {role_key: "system", content_key: "late"})
    record: dict = {field: turns}
    if rng.random() < 0.7:
        record["id"] = rng.choice(["a", "b", 7, 7.5, True, "", " ", None, "\ud800", "x" * 3])
    mutate = rng.random()
    if mutate < 0.4 and turns:
        turn = rng.choice(turns)
        key = rng.choice([role_key, content_key, "weight", "extra"])
        turn[key] = rng.choice(["user", "assistant", "system", "bot", "", "  ", 1, 0, None,
                                [], {}, "\ud800", "ok"])
        if rng.random() < 0.2:
            turn.pop(rng.choice([role_key, content_key]), None)
    elif mutate < 0.45:
        record["messages" if field == "conversations" else "conversations"] = []
    elif mutate < 0.5:
        record[field] = rng.choice([[], {}, "turns", [1, 2]])
    return record


def test_fast_check_accepts_exactly_what_the_full_rules_accept():
    import random

    from services.dataset.formats import Location, canonical_line
    from services.dataset.validation import _check_record, _clean_record

    rng, taken = random.Random(0), 0
    for n in range(20_000):
        record = _random_record(rng)
        where = Location(n + 1)
        fast, full = _clean_record(where, record), _check_record(where, record)
        if fast is None:
            # Weights, warnings and every problem go the full way; so does nothing else.
            has_weight = isinstance(record, dict) and any(
                isinstance(t, dict) and "weight" in t for t in record.get("messages") or [])
            assert full.problems or full.warnings or has_weight, record
            continue
        taken += 1
        assert not full.problems and not full.warnings, record
        assert (fast.id, fast.format, fast.messages) == (full.id, full.format, full.messages)
        assert fast.line == canonical_line(full.id, full.messages)
    assert taken > 3_000
