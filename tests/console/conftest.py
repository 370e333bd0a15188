"""The browser test's world: the end-to-end platform, and Debian's Chromium driven by Playwright."""

import os
import shutil

import httpx
import pytest

from tests.conftest import ROOT

# Playwright's own browser download does not work here; Debian's package does.
CHROMIUM = shutil.which("chromium")
ARTIFACTS = ROOT / "test-artifacts" / "console"
API_KEY = "tf-console-test-key"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture(scope="module")
def console_url(request) -> str:
    """The gateway under test: TUNEFORGE_CONSOLE_TEST_URL names one already running (`make
    run`, handy while working on the console); otherwise the whole platform starts here."""
    return os.environ.get("TUNEFORGE_CONSOLE_TEST_URL") or request.getfixturevalue("stack").api_url


@pytest.fixture(scope="module")
def page(browser, console_url):
    """One tab for the whole story, recording the Authorization header of every API call."""
    served = httpx.get(f"{console_url}/console/", timeout=10)
    assert served.status_code == 200, (
        f"{console_url}/console/ answered {served.status_code}: the gateway does not serve the "
        "console (gateway/app.py must include gateway.console.router.console_router())")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=console_url, viewport={"width": 1280, "height": 900},
                                  locale="en-GB")
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.api_auth = []
    tab.on("request", lambda r: "/v1/" in r.url and tab.api_auth.append(
        r.headers.get("authorization")))
    tab.console_errors = []
    # Refused requests (a 400 upload, say) are logged by the browser itself; they are not bugs.
    tab.on("console", lambda m: m.type == "error" and not m.text.startswith(
        "Failed to load resource") and tab.console_errors.append(m.text))
    tab.on("pageerror", lambda e: tab.console_errors.append(str(e)))
    yield tab
    context.close()


@pytest.fixture
def shot(page):
    """Save a full-page screenshot as a test artifact: shot("01-sign-in")."""
    def take(name: str) -> None:
        # From the top: a full-page shot of a scrolled page draws the sticky bar mid-page.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
    return take
