"""The console's routes: the page, its scripts and libraries, and nothing outside its folder."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway import errors
from gateway.console.router import NODE_MODULES, VENDOR, console_router


def client(node_modules=NODE_MODULES) -> TestClient:
    app = FastAPI()
    errors.install(app)
    app.include_router(console_router(node_modules))
    return TestClient(app, follow_redirects=False)


@pytest.mark.parametrize("path", ["/", "/console"])
def test_root_and_bare_console_redirect_to_the_page(path):
    r = client().get(path)
    assert r.status_code == 307
    assert r.headers["location"] == "/console/"


def test_page_loads_its_module_and_chart_library_and_is_revalidated():
    r = client().get("/console/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="/console/js/app.js">' in r.text
    assert '/console/vendor/chart.js' in r.text


def test_scripts_and_style_sheet_are_served_with_their_types():
    c = client()
    js = c.get("/console/js/pages/job.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    css = c.get("/console/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", ["/console/..%2f..%2fapp.py", "/console/js/..%2f..%2frouter.py",
                                  "/console/no-such.js"])
def test_files_outside_the_static_folder_or_missing_are_404_naming_the_path(path):
    r = client().get(path)
    assert r.status_code == 404
    assert r.json()["error"]["message"].startswith("The console has no file")


@pytest.mark.skipif(not (NODE_MODULES / VENDOR["chart.js"]).is_file(),
                    reason="node_modules not installed: run `npm ci` (make setup)")
def test_chart_library_comes_from_node_modules():
    r = client().get("/console/vendor/chart.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "Chart" in r.text[:2000]


def test_missing_library_is_404_saying_to_run_npm_ci(tmp_path):
    r = client(tmp_path).get("/console/vendor/chart.js")
    assert r.status_code == 404
    assert "npm ci" in r.json()["error"]["message"]


def test_unknown_library_is_404_naming_it():
    r = client().get("/console/vendor/left-pad")
    assert r.status_code == 404
    assert "left-pad" in r.json()["error"]["message"]
