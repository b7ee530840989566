"""The Dagster UI in a real browser (Debian's Chromium driven by Playwright): what a person opening
`./datalake ui` sees of the lake and its governance, and a materialization started by a click.

`dagster dev` (webserver and daemon) runs on 127.0.0.1 over a freshly seeded lake, with the
instance configuration of `datalake ui` (deployments/local/dagster.yaml: no first-visit dialog,
freshness evaluated). Screenshots of every step are kept in a folder the test prints
($UI_ARTIFACTS, else the test's temporary folder), with `dagster dev`'s log beside them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from datalake_platform_tests.conftest import REPO, free_port

pytestmark = pytest.mark.ui

CHROMIUM = Path("/usr/bin/chromium")
LOCAL_INSTANCE = REPO / "deployments" / "local" / "dagster.yaml"
BIN = Path(sys.executable).parent
ASSET = "universal/passengers/passengers"  # materializable, unpartitioned, ~30 s of Spark
STARTUP_S = 180  # dagster dev serving, then the code location loaded (Spark-free definitions)
RUN_S = 240  # the clicked run: queued, a Spark driver started, the table and its checks


@pytest.fixture
def artifacts(tmp_path, capsys) -> Path:
    folder = Path(os.environ.get("UI_ARTIFACTS") or tmp_path / "ui-artifacts").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    with capsys.disabled():
        print(f"\nUI test artifacts (screenshots, dagster dev log): {folder}")
    return folder


def instance_config() -> dict:
    """`datalake ui`'s instance configuration, with the landing sensors' runs held in the queue.

    On a freshly seeded lake the landing sensor's first tick asks for the whole purchase history
    (minutes of Spark); on 2 cores that would delay the run this test starts by a click. A tag
    limit of 0 on `dagster/sensor_name` keeps those runs queued (the UI still lists them).
    """
    config = yaml.safe_load(LOCAL_INSTANCE.read_text())
    assert config["nux"] == {"enabled": False}, "the first-visit dialog must be off in deployments/local"
    assert config["freshness"] == {"enabled": True}, "freshness must be evaluated in deployments/local"
    queue = config["run_coordinator"].setdefault("config", {})
    queue["tag_concurrency_limits"] = [{"key": "dagster/sensor_name", "limit": 0}]
    return config


@pytest.fixture
def dagster_dev(tmp_path, artifacts):
    """`dagster dev` on a free loopback port over a seeded lake; its whole process group stopped at the end."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_config(), sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATALAKE_")}  # the local defaults
    env.update(DAGSTER_HOME=str(home), DATALAKE_ROOT=str(tmp_path / "lake"))
    seeded = subprocess.run([BIN / "datalake", "seed"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    port = free_port()
    log = open(artifacts / "dagster-dev.log", "w")
    proc = subprocess.Popen(
        [BIN / "dagster", "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: webserver, daemon, code server, runs, Spark
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + STARTUP_S
        while True:
            assert proc.poll() is None, f"dagster dev exited ({proc.returncode}); see {artifacts / 'dagster-dev.log'}"
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            assert time.time() < deadline, f"dagster dev did not answer in {STARTUP_S} s"
            time.sleep(1)
        yield url
    finally:
        _stop_group(proc)
        log.close()


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group (dagster dev shuts its children down), SIGKILL to what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM}: install Debian's Chromium (`sudo apt-get install chromium`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev extra: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def test_catalog_governance_and_a_materialization_in_the_browser(browser, dagster_dev, artifacts):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1600, "height": 2600})  # every catalog row rendered at once
    page.set_default_timeout(30_000)
    steps = iter(range(1, 100))

    def shot(name: str) -> None:
        page.screenshot(path=artifacts / f"{next(steps):02d}-{name}.png", full_page=True)

    try:
        # 1. The catalog lists tables of every zone, each in its zone's group.
        page.goto(f"{dagster_dev}/assets")
        expect(page.get_by_role("link", name="universal / passengers / passengers")).to_be_visible(
            timeout=STARTUP_S * 1000  # the code location loads after the server answers
        )
        with contextlib.suppress(AssertionError):  # the status column fills in a moment later (screenshot only)
            expect(page.get_by_text("Loading...", exact=True)).to_have_count(0, timeout=30_000)
        shot("catalog")
        for zone, table in [
            ("landing", "landing / transactions / purchases"),
            ("universal", "universal / transactions / purchases"),
            ("smart", "smart / transactions / report_by_person"),
        ]:
            expect(page.get_by_role("link", name=table)).to_be_visible()
            group = page.get_by_role("link").filter(has_text=re.compile(rf"^{zone}$"))  # the asset group column
            expect(group.first).to_be_visible()

        # 2. The asset page: owner, classification, retention, the pii tags of the column schema.
        page.set_viewport_size({"width": 1600, "height": 1000})
        page.goto(f"{dagster_dev}/assets/{ASSET}")
        expect(page.get_by_text("Latest materialization")).to_be_visible(timeout=60_000)
        owners = page.get_by_text("Owners", exact=True).locator("xpath=..")
        expect(owners).to_contain_text("passengers")  # a team owner: the team's name beside a team icon
        tags = page.get_by_text("Tags", exact=True).locator("xpath=..")
        expect(tags).to_contain_text("classification: confidential")
        expect(tags).to_contain_text("contains_pii: true")
        expect(tags).to_contain_text("retention: kept")
        shot("asset-definition")
        name_hash = page.get_by_role("row").filter(has=page.get_by_text("NameHash", exact=True))
        name_hash.scroll_into_view_if_needed()
        expect(name_hash).to_contain_text("pii: keyed_hash")
        expect(name_hash).to_contain_text("pii_category: person_name")
        shot("asset-columns")
        for key, value in {
            "governance/owner": "team:passengers",
            "governance/classification": "confidential",
            "governance/retention": "kept",
        }.items():
            row = page.get_by_role("row").filter(has=page.get_by_text(key, exact=True))
            expect(row).to_contain_text(value)
            row.scroll_into_view_if_needed()
        shot("asset-metadata")

        # 3. Materialize, by a click; the run page shows it through to success.
        page.get_by_role("button", name=re.compile(r"\bMaterialize$")).click()
        launched = page.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}"))
        expect(launched).to_be_visible()
        shot("launched")
        page.get_by_text("View", exact=True).click()  # the toast's link to the run
        expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))
        status = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
        expect(status).to_be_visible(timeout=RUN_S * 1000)
        shot("run")
        assert status.inner_text() == "Success", f"the run ended {status.inner_text()}: see {artifacts}"

        # 4. Its checks, passed, on the asset's Checks tab.
        page.goto(f"{dagster_dev}/assets/{ASSET}")
        page.get_by_role("tab", name="Checks").click()
        header = page.get_by_text(re.compile(r"^Checks \(\d+\)$"))
        expect(header).to_be_visible()
        count = int(re.search(r"\d+", header.inner_text()).group())
        assert count >= 2  # contract and nothing_lost at least
        expect(page.get_by_text("contract", exact=True).first).to_be_visible()
        expect(page.get_by_text("Succeeded", exact=True)).to_have_count(count)
        expect(page.get_by_text("Passed", exact=True)).to_be_visible()  # the selected check's latest result
        shot("checks")
    except BaseException:
        shot("failure")
        raise
