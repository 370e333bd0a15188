"""The seed's story in a real browser: sign in, upload, statistics, fine-tune with the seed's
hyperparameters while the progress bar and loss chart move, deploy, and chat with 小智.

The tests run in order on one tab, each page saved under test-artifacts/console/.
"""

import json
import re

import pytest

from tests.console.conftest import API_KEY, CHROMIUM
from tests.conftest import EXAMPLES

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed, so the browser "
                       "test did not run: apt-get install -y chromium"),
]

PROGRESS = "#job-progress"
CHART_POINTS = """() => {
  const chart = Chart.getChart(document.querySelector('#loss-chart canvas'));
  return chart ? chart.data.datasets[0]?.data.map((p) => p.y) ?? [] : [];
}"""


@pytest.fixture(scope="module")
def story() -> dict:
    """What one step of the story leaves for the next: file, job and model ids."""
    return {}


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


def test_new_fine_tune_offers_the_seed_preset_and_a_memory_estimate(
        page, shot, story, demo_hyperparameters):
    page.goto(f"/console/#/finetune?file={story['file']}")
    page.click("#preset-seed")
    for name, value in demo_hyperparameters.items():
        assert page.input_value(f"#hp-{name}") == str(value), name
    assert "per GPU" in page.inner_text("#memory-estimate")
    page.select_option("#hp-offload_optimizer", "on")
    assert "of host memory" in page.inner_text("#memory-estimate")
    page.select_option("#hp-offload_optimizer", "")
    assert page.input_value("#training_file") == story["file"]
    page.fill("#suffix", "xiaozhi")
    page.fill("#seed", "42")
    page.click("details.snippet summary:text('curl')")
    shot("05-new-fine-tune")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"#/jobs/ftjob-"))
    story["job"] = page.url.rsplit("/", 1)[-1]


def test_job_progress_bar_and_loss_chart_move_until_the_job_succeeds(page, shot):
    page.wait_for_function(f"() => +document.querySelector('{PROGRESS}')"
                           ".getAttribute('aria-valuenow') > 0", timeout=300_000)
    first, points = progress_of(page), len(page.evaluate(CHART_POINTS))
    page.wait_for_function(
        f"([p, n]) => +document.querySelector('{PROGRESS}').getAttribute('aria-valuenow') > p "
        f"&& ({CHART_POINTS})().length > n", arg=[first, points], timeout=120_000)
    # A third of the way in, the chart shows a curve worth a screenshot.
    page.wait_for_function(f"() => +document.querySelector('{PROGRESS}')"
                           ".getAttribute('aria-valuenow') >= 33 || !document.querySelector("
                           "'.title-row .badge.busy')", timeout=600_000)
    shot("06-job-running")
    assert "Launching" in page.inner_text("#job-log")
    page.wait_for_selector(".title-row .badge:text-matches('succeeded|failed|cancelled')",
                           timeout=600_000)
    assert page.inner_text(".title-row .badge") == "succeeded"
    assert progress_of(page) == 100
    losses = page.evaluate(CHART_POINTS)
    assert len(losses) > points and losses[-1] < losses[0]
    page.wait_for_selector("#deepspeed-config")
    shot("07-job-succeeded")


def test_deploying_the_fine_tune_from_its_job_page_gets_ready(page, shot, story):
    page.click("#job-deploy")
    page.wait_for_url(re.compile(r"#/deployments\?model="))
    story["model"] = page.input_value("#deploy-model")
    assert story["model"].startswith("ft:tiny-qwen2:xiaozhi:")
    page.click("#deploy-submit")
    row = f"#deployments tr:has-text('{story['model']}')"
    page.wait_for_selector(f"{row} .badge:text('ready')", timeout=300_000)
    shot("08-deployments")


def test_playground_streams_an_answer_as_xiaozhi_with_curl_and_python(page, shot, story):
    page.click(f"#deployments tr:has-text('{story['model']}') a:text('Chat')")
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
    shot("09-playground")


def test_model_page_shows_the_lineage_back_to_the_base_model(page, shot, story):
    page.goto("/console/#/models")
    page.wait_for_selector(f"a:text('{story['model']}')")
    shot("10-models")
    page.click(f"a:text('{story['model']}')")
    lineage = page.wait_for_selector("#lineage").inner_text()
    assert "tiny-qwen2" in lineage and story["model"] in lineage
    assert story["job"] in page.inner_text("main")
    shot("11-model")


def test_no_page_raised_a_script_error(page):
    assert page.console_errors == []
