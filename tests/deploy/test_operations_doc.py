"""docs/operations.md: its configuration section is generated; its metrics table is the contract."""

import json
import re
import sys

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings
from services.common.settings_doc import (
    DOC,
    PROCESSES,
    env_fields,
    env_name,
    render,
    render_section,
    settings_class,
)
from tests.deploy.support import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "tuneforge.json"


def test_configuration_section_matches_the_settings_classes():
    assert DOC.read_text() == render(DOC.read_text()), (
        "docs/operations.md is stale: python -m services.common.settings_doc")


def test_every_setting_of_every_process_is_documented():
    section = render_section()
    for process in PROCESSES:
        for env in env_fields(settings_class(process)):
            assert f"`{env}`" in section, env


def test_shared_settings_keep_their_name_and_own_ones_take_the_prefix():
    cls = settings_class("registry")
    assert env_name(cls, "nats_url") == "TUNEFORGE_NATS_URL"
    assert env_name(cls, "base_models_dir") == "TUNEFORGE_REGISTRY_BASE_MODELS_DIR"
    assert not any(n.startswith("TUNEFORGE_REGISTRY_NATS") for n in env_fields(cls))


def test_a_setting_without_description_is_refused_by_name():
    class Sloppy(CommonSettings):
        model_config = SettingsConfigDict(env_prefix="TUNEFORGE_SLOPPY_")
        knob: int = Field(default=1)

    from services.common import settings_doc

    with pytest.raises(ValueError, match="TUNEFORGE_SLOPPY_KNOB has no description"):
        settings_doc._table(Sloppy, own_only=True)


def test_document_does_not_depend_on_the_machine_that_renders_it():
    assert sys.executable not in render_section()


def test_document_without_markers_is_refused():
    with pytest.raises(ValueError, match="no generated settings section"):
        render("# Operating TuneForge\n")


def test_dashboard_queries_only_metrics_the_document_lists():
    documented = set(re.findall(r"^\| `(tuneforge_\w+)` \|", DOC.read_text(), re.MULTILINE))
    queried = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            queried |= {re.sub(r"_(bucket|sum|count)$", "", m)
                        for m in re.findall(r"\btuneforge_\w+", target["expr"])}
    assert queried and queried <= documented, f"undocumented: {sorted(queried - documented)}"


def test_dashboard_panels_are_unique_and_use_the_chosen_data_source():
    dash = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for topic in ("jobs", "queue", "tokens/s", "latency"):
        assert topic in titles, f"the dashboard shows no {topic}"
