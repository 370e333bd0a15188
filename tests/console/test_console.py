"""The seed's story in a real browser: sign in, upload, statistics, fine-tune with the seed's
hyperparameters and the service's memory estimate while the progress bar and loss chart move,
pause and resume, checkpoints with their validation loss, the before/after answers, deploy (the
job itself and a checkpoint), and chat with 小智.

The tests run in order on one tab, each page saved under test-artifacts/console/.
"""

import json
import re
from urllib.parse import quote

import pytest

from tests.console.conftest import API_KEY, CHROMIUM
from tests.conftest import EXAMPLES

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed, so the browser "
                       "test did not run: apt-get install -y chromium"),
]

PROGRESS = "#job-progress"
CHART = "Chart.getChart(document.querySelector('#loss-chart canvas'))"
CHART_POINTS = f"() => {CHART}?.data.datasets[0]?.data.map((p) => p.y) ?? []"
CHART_STEPS = f"() => {CHART}?.data.datasets[0]?.data.map((p) => p.x) ?? []"
CHART_VALIDATION_STEPS = f"() => {CHART}?.data.datasets[1]?.data.map((p) => p.x) ?? []"


@pytest.fixture(scope="module")
def story() -> dict:
    """What one step of the story leaves for the next: file, job and model ids."""
    return {}


def deployment_row(model: str) -> str:
    """The deployments table's row of exactly this model (a checkpoint's id extends it)."""
    return f"#deployments tr:has(td:nth-child(2) a:text-is('{model}'))"


def progress_of(page) -> float:
    return float(page.get_attribute(PROGRESS, "aria-valuenow") or 0)


def test_a_refused_key_stays_on_sign_in_with_the_gateways_message(page):
    # The test platform runs without keys (no admin key set): play a keyed gateway's refusal.
    refusal = {"error": {"message": "Invalid API key.", "type": "authentication_error",
                         "param": None, "code": "unauthenticated"}}
    page.route("**/v1/models", lambda route: route.fulfill(status=401, json=refusal))
    page.goto("/console/")
    page.fill("#api-key", "tf-wrong")
    page.get_by_role("button", name="Sign in").click()
    assert "Invalid API key." in page.wait_for_selector(".alert.error").inner_text()
    assert page.evaluate("localStorage.getItem('tuneforge.apiKey')") is None
    assert page.is_hidden("#nav")
    page.unroute("**/v1/models")
    page.api_auth.clear()


def test_sign_in_keeps_the_key_and_sends_it_as_a_bearer_token(page, shot):
    page.goto("/")
    assert page.url.endswith("/console/")
    page.wait_for_selector("#api-key")
    shot("01-sign-in")
    page.fill("#api-key", API_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("h1:text('Datasets')")
    assert page.evaluate("localStorage.getItem('tuneforge.apiKey')") == API_KEY
    assert page.api_auth and set(page.api_auth) == {f"Bearer {API_KEY}"}


def test_upload_opens_the_dataset_with_statistics_and_trained_tokens_highlighted(
        page, shot, story):
    page.set_input_files("#dataset-file", EXAMPLES / "self_cognition.json")
    page.click("button:text('Upload')")
    page.wait_for_url(re.compile(r"#/datasets/file-"))
    story["file"] = page.url.rsplit("/", 1)[-1]
    stats = page.wait_for_selector("#dataset-stats")
    examples = len(json.loads((EXAMPLES / "self_cognition.json").read_text()))
    assert f"{examples}\nExamples" in stats.inner_text()
    trained = page.locator("mark.trained").all_inner_texts()
    assert any("小智" in t for t in trained), trained
    page.wait_for_function("() => document.querySelector('#dataset-stats') "
                           "&& document.querySelector('.chart canvas')")
    shot("02-dataset")


def test_malformed_upload_is_refused_and_its_report_lists_each_line_and_field(page, shot):
    page.goto("/console/#/datasets")
    bad = b'{"conversations": [{"from": "user", "value": "hi"}]}\n{"conversations": 5}\n'
    page.set_input_files("#dataset-file", files=[{
        "name": "bad.jsonl", "mimeType": "application/jsonl", "buffer": bad}])
    page.click("button:text('Upload')")
    assert "line 2" in page.wait_for_selector(".alert.error").inner_text()
    page.wait_for_selector("#datasets a:text('bad.jsonl')")
    shot("03-datasets-with-upload-error")
    page.click("#see-report")
    row = page.wait_for_selector("tr:has-text('must be a list of turns')")
    line, field, severity, _ = row.query_selector_all("td")
    assert (line.inner_text(), field.inner_text(), severity.inner_text()) == (
        "2", "conversations", "error")
    shot("04-dataset-report")


def test_new_fine_tune_offers_the_seed_preset_and_the_services_memory_estimate(
        page, shot, story, demo_hyperparameters):
    page.goto(f"/console/#/finetune?file={story['file']}")
    page.click("#preset-seed")
    for name, value in demo_hyperparameters.items():
        assert page.input_value(f"#hp-{name}") == str(value), name
    estimate = page.wait_for_selector("#memory-estimate .estimate.fits")
    assert "per device" in estimate.inner_text()
    page.select_option("#hp-offload_optimizer", "on")
    page.wait_for_selector("#memory-estimate .estimate:has-text('of host memory')")
    page.select_option("#hp-offload_optimizer", "")
    page.wait_for_selector("#memory-estimate .estimate.fits:not(:has-text('of host memory'))")
    assert page.input_value("#training_file") == story["file"]


def test_a_job_too_big_for_memory_shows_the_suggestion_and_is_refused(page, shot):
    page.fill("#hp-batch_size", "4096")
    suggestion = page.wait_for_selector("#estimate-suggestion").inner_text()
    assert "Does not fit" in suggestion and "model_max_length" in suggestion, suggestion
    shot("05-estimate-does-not-fit")
    page.click("#submit-job")
    refusal = page.wait_for_selector(".alert.error:has-text('cannot fit in memory')").inner_text()
    assert "hyperparameters.zero_stage" in refusal
    assert "invalid" in page.get_attribute("#hp-zero_stage", "class")
    page.fill("#hp-batch_size", "8")
    page.wait_for_selector("#memory-estimate .estimate.fits")
    assert not page.is_visible(".alert.error") and not page.query_selector(".invalid")


def test_the_fine_tune_asks_for_validation_checkpoints_and_the_before_after_check(
        page, shot, story):
    assert page.input_value("#eval_prompts") == "你是谁"
    page.select_option("#validation_file", story["file"])
    page.click("details.more summary")
    page.select_option("#hp-save_strategy", "steps")
    page.fill("#hp-save_steps", "50")
    page.fill("#suffix", "xiaozhi")
    page.fill("#seed", "42")
    page.fill("#alias", "prod")
    page.check("#auto_deploy")
    page.click("details.snippet summary:text('JSON')")
    sent = json.loads(page.inner_text("#request-json pre"))
    assert sent["validation_file"] == story["file"] and sent["eval_prompts"] == ["你是谁"]
    assert (sent["auto_deploy"], sent["alias"]) == (True, "prod")
    assert "extra_body=" in page.text_content("#request-python pre")
    shot("06-new-fine-tune")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"#/jobs/ftjob-"))
    story["job"] = page.url.rsplit("/", 1)[-1]


def test_job_progress_bar_with_eta_and_loss_chart_move(page):
    page.wait_for_function(f"() => +document.querySelector('{PROGRESS}')"
                           ".getAttribute('aria-valuenow') > 0", timeout=300_000)
    first, points = progress_of(page), len(page.evaluate(CHART_POINTS))
    page.wait_for_function(
        f"([p, n]) => +document.querySelector('{PROGRESS}').getAttribute('aria-valuenow') > p "
        f"&& ({CHART_POINTS})().length > n", arg=[first, points], timeout=120_000)
    page.wait_for_selector(f"{PROGRESS} .progress-label:text-matches('left$')", timeout=60_000)
    assert page.inner_text("#job-eta .value") != "–"
    assert "Launching" in page.inner_text("#job-log")
    page.wait_for_function("() => document.querySelector('#job-rank-log').textContent.trim()",
                           timeout=60_000)


def test_pause_stops_the_job_and_resume_continues_from_its_step(page, shot):
    page.click("#job-pause")
    page.wait_for_selector(".title-row .badge:text('paused')", timeout=180_000)
    assert page.is_visible("#job-resume") and not page.is_visible("#job-pause")
    assert "paused" in page.inner_text(f"{PROGRESS} .progress-label")
    paused_at = progress_of(page)
    assert 0 < paused_at < 100
    shot("07-job-paused")
    page.click("#job-resume")
    page.wait_for_selector(".title-row .badge:text-matches('queued|running')")
    page.wait_for_function(f"p => +document.querySelector('{PROGRESS}')"
                           ".getAttribute('aria-valuenow') > p", arg=paused_at, timeout=300_000)
    assert page.is_visible("#job-pause")


def test_job_succeeds_with_checkpoints_validation_loss_and_before_after_answers(
        page, shot, story):
    # A third of the way in, the chart shows a curve worth a screenshot.
    page.wait_for_function(f"() => +document.querySelector('{PROGRESS}')"
                           ".getAttribute('aria-valuenow') >= 33 || !document.querySelector("
                           "'.title-row .badge.busy')", timeout=600_000)
    shot("08-job-running")
    page.wait_for_selector(".title-row .badge:text-matches('succeeded|failed|cancelled')",
                           timeout=600_000)
    assert page.inner_text(".title-row .badge") == "succeeded"
    assert progress_of(page) == 100
    steps = page.evaluate(CHART_STEPS)
    assert steps == list(range(1, len(steps) + 1)), "the steps went on after the pause"
    losses = page.evaluate(CHART_POINTS)
    assert len(losses) == len(steps) and losses[-1] < losses[0]
    # Validation loss at each checkpoint and at the end, newest checkpoint first in the table.
    assert page.evaluate(CHART_VALIDATION_STEPS) == [50, 100, len(steps)]
    rows = page.locator("#job-checkpoints tbody tr")
    assert [r.split("\t")[0] for r in rows.all_inner_texts()] == ["100", "50"]
    assert ":ckpt-step-100" in rows.first.inner_text()
    comparison = page.wait_for_selector("#before-after .comparison")
    assert "你是谁" in comparison.query_selector(".prompt").inner_text()
    tuned = comparison.query_selector(".answer.fine-tuned .text").inner_text()
    assert "小智" in tuned, tuned
    assert comparison.query_selector(".answer.base .text").inner_text() != tuned
    story["model"] = page.inner_text("#job-result p a")
    assert story["model"].startswith("ft:tiny-qwen2:xiaozhi:")
    assert "xiaozhi@prod" in page.inner_text("#job-result")
    assert quote(story["model"], safe="") in page.get_attribute("#job-deploy", "href")
    page.wait_for_selector("#deepspeed-config")
    shot("09-job-succeeded")


def test_a_checkpoint_deploys_from_the_job_page(page, story):
    row = page.locator("#job-checkpoints tbody tr").first
    story["checkpoint"] = row.locator("td").nth(1).inner_text()
    row.get_by_role("button", name="Deploy").click()
    assert "Deploying as dep-" in row.locator("a:text-matches('^Deploying')").inner_text()


def test_the_auto_deployed_fine_tune_gets_ready(page, shot, story):
    page.click("#job-result a[href='#/deployments']")
    page.wait_for_url(re.compile(r"#/deployments"))
    row = deployment_row(story["model"])
    page.wait_for_selector(f"{row} .badge:text('ready')", timeout=300_000)
    page.wait_for_selector(deployment_row(story["checkpoint"]))
    shot("10-deployments")


def test_playground_streams_an_answer_as_xiaozhi_with_curl_and_python(page, shot, story):
    page.click(f"{deployment_row(story['model'])} a:text('Chat')")
    page.wait_for_selector("#chat-input")
    assert page.input_value("#chat-model") == story["model"]
    page.fill("#chat-temperature", "0")
    page.fill("#chat-max-tokens", "96")
    page.fill("#chat-input", "你是谁")
    page.press("#chat-input", "Enter")
    page.wait_for_selector(".meta:not(:empty)", timeout=120_000)
    answer = page.inner_text(".bubble.assistant")
    assert "小智" in answer, answer
    page.click("#chat-code summary")
    curl = page.inner_text("#snippet-curl")
    assert "/v1/chat/completions" in curl and story["model"] in curl and "Bearer" in curl
    assert "client.chat.completions.create(" in page.inner_text("#snippet-python")
    shot("11-playground")


def test_model_page_shows_the_lineage_back_to_the_base_model(page, shot, story):
    page.goto("/console/#/models")
    page.wait_for_selector(f"a:text-is('{story['model']}')")
    shot("12-models")
    page.click(f"a:text-is('{story['model']}')")
    lineage = page.wait_for_selector("#lineage").inner_text()
    assert "tiny-qwen2" in lineage and story["model"] in lineage
    assert story["job"] in page.inner_text("main")
    shot("13-model")


def test_no_page_raised_a_script_error(page):
    assert page.console_errors == []
