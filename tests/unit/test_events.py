"""Event types: versioned subjects, schemas documented in one generated file."""

import asyncio

from services.common.events import (
    EVENT_TYPES,
    EventBus,
    JobSucceeded,
    decode,
    subject_for,
)
from services.common.events_doc import DOC, render


def test_subjects_are_versioned_and_unique():
    subjects = [subject_for("tuneforge", t) for t in EVENT_TYPES]
    assert len(set(subjects)) == len(subjects)
    assert all(s.startswith("tuneforge.v1.") for s in subjects)


def test_docs_events_md_matches_the_code():
    assert DOC.read_text() == render(), "docs/events.md is stale: python -m services.common.events_doc"


def test_event_round_trips_through_json():
    e = JobSucceeded(job_id="ftjob-1", model="tiny-qwen2", status="succeeded",
                     fine_tuned_model="ft:tiny-qwen2:x:1")
    back = decode(subject_for("p", JobSucceeded), e.model_dump_json().encode())
    assert back == e


async def test_published_event_is_stored_in_jetstream(nats_url, event_prefix):
    import nats

    bus = await EventBus(nats_url, f"S{event_prefix}", event_prefix).connect()
    try:
        e = JobSucceeded(job_id="ftjob-2", model="m", status="succeeded", fine_tuned_model="ft")
        await bus.publish(e)
    finally:
        await bus.close()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(f"{event_prefix}.>", stream=f"S{event_prefix}")
        msgs = await asyncio.wait_for(sub.fetch(1), 5)
        assert msgs[0].subject == f"{event_prefix}.v1.training.job.succeeded"
        assert decode(msgs[0].subject, msgs[0].data) == e
    finally:
        await nc.drain()
