"""configure_logging: one JSON object per line with the request id and project of the code
that logged, or plain text when asked."""

import json
import logging

import pytest

from services.common import context as ctx
from services.common.logs import configure_logging


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def lines(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_json_line_carries_service_request_id_and_project(capsys, restore_root_logger):
    configure_logging("training", "INFO", "json")
    with ctx.project_context("team-a"):
        token = ctx.request_id.set("req-7")
        try:
            logging.getLogger("services.training.runner").info("job %s started", "ftjob-1")
        finally:
            ctx.request_id.reset(token)

    [line] = lines(capsys.readouterr().err)
    assert line["message"] == "job ftjob-1 started"
    assert (line["service"], line["logger"], line["level"]) == (
        "training", "services.training.runner", "INFO")
    assert (line["request_id"], line["project"]) == ("req-7", "team-a")
    assert line["time"] and "exc_info" not in line


def test_json_line_outside_a_request_has_placeholders_and_keeps_the_traceback(
        capsys, restore_root_logger):
    configure_logging("registry", "INFO", "json")
    try:
        raise RuntimeError("disk full")
    except RuntimeError:
        logging.getLogger("x").exception("upload failed")

    [line] = lines(capsys.readouterr().err)
    assert (line["request_id"], line["project"]) == ("-", "-")
    assert "RuntimeError: disk full" in line["exc_info"] and line["level"] == "ERROR"


def test_non_ascii_stays_readable(capsys, restore_root_logger):
    configure_logging("inference", "INFO", "json")
    logging.getLogger("x").info("你是谁")

    assert "你是谁" in capsys.readouterr().err


def test_text_format_prints_one_plain_line(capsys, restore_root_logger):
    configure_logging("dataset", "INFO", "text")
    with ctx.project_context("team-b"):
        logging.getLogger("x").warning("slow upload")

    err = capsys.readouterr().err
    assert "WARNING dataset [- team-b] x: slow upload" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)


def test_unknown_format_is_refused_naming_the_setting(restore_root_logger):
    with pytest.raises(ValueError, match="log_format"):
        configure_logging("dataset", "INFO", "yaml")
