"""Event types: versioned subjects that name the project, schemas documented in one generated
file."""

import asyncio
import json

import pytest
from pydantic import ValidationError

from services.common.context import project_context
from services.common.events import (
    EVENT_TYPES,
    EventBus,
    JobSucceeded,
    decode,
    parse_subject,
    subject_filter,
    subject_for,
)
from services.common.events_doc import DOC, render


def succeeded(**kw) -> JobSucceeded:
    return JobSucceeded(job_id="ftjob-1", model="tiny-qwen2", status="succeeded",
                        fine_tuned_model="ft:tiny-qwen2:x:1", **kw)


def test_subjects_are_versioned_unique_and_carry_the_project():
    subjects = [subject_for("tuneforge", t, "team-a") for t in EVENT_TYPES]
    assert len(set(subjects)) == len(subjects)
    assert all(s.startswith("tuneforge.v1.team-a.") for s in subjects)
    assert subject_for("tuneforge", JobSucceeded, "team-a") == \
        "tuneforge.v1.team-a.training.job.succeeded"


def test_docs_events_md_matches_the_code():
    assert DOC.read_text() == render(), "docs/events.md is stale: python -m services.common.events_doc"


def test_event_round_trips_through_json():
    e = succeeded(project="team-a")
    back = decode(subject_for("p", JobSucceeded, "team-a"), e.model_dump_json().encode())
    assert back == e


def test_event_takes_the_project_of_the_work_in_progress():
    with project_context("team-a"):
        inside = succeeded()
    assert inside.project == "team-a"
    assert succeeded().project == "default"  # outside any project's request or work


@pytest.mark.parametrize("bad", ["team.a", "*", ">", "team a", "", "-lead"])
def test_project_that_cannot_be_a_subject_token_is_refused_by_name(bad):
    with pytest.raises(ValidationError, match="Invalid project"):
        succeeded(project=bad)
    with pytest.raises(Exception, match="Invalid project"):
        with project_context(bad):
            pass


def test_filters_follow_one_project_or_one_type_of_every_project():
    assert subject_filter("tf") == "tf.v1.*.>"
    assert subject_filter("tf", project="team-a") == "tf.v1.team-a.>"
    assert subject_filter("tf", JobSucceeded) == "tf.v1.*.training.job.succeeded"
    with pytest.raises(Exception, match="Invalid project"):
        subject_filter("tf", project="a.b")


def test_subject_parses_into_project_and_type_also_from_before_projects():
    assert parse_subject("tf.v1.team-a.training.job.succeeded") == \
        ("team-a", "training.job.succeeded")
    assert parse_subject("acme.tf.v1.team-a.training.job.succeeded") == \
        ("team-a", "training.job.succeeded")
    assert parse_subject("tf.v1.training.job.succeeded") == ("default", "training.job.succeeded")
    legacy = succeeded().model_dump(exclude={"project"})
    assert decode("tf.v1.training.job.succeeded", json.dumps(legacy).encode()).project == \
        "default"
    with pytest.raises(ValueError, match="not an event subject"):
        parse_subject("tf-live.v1.inference.heartbeat")


async def test_published_event_is_stored_in_jetstream_under_its_project(nats_url, event_prefix):
    import nats

    bus = await EventBus(nats_url, f"S{event_prefix}", event_prefix).connect()
    seen = []
    bus.observe(seen.append)
    try:
        with project_context("team-a"):
            e = JobSucceeded(job_id="ftjob-2", model="m", status="succeeded",
                             fine_tuned_model="ft")
        await bus.publish(e)
    finally:
        await bus.close()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subject_filter(event_prefix, project="team-a"),
                                      stream=f"S{event_prefix}")
        msgs = await asyncio.wait_for(sub.fetch(1), 5)
        assert msgs[0].subject == f"{event_prefix}.v1.team-a.training.job.succeeded"
        assert decode(msgs[0].subject, msgs[0].data) == e
        assert seen == [e]
    finally:
        await nc.drain()
