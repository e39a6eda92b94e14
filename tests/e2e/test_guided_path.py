"""The whole guided path in a real browser: Home → Model → Data → Train (Auto) → Results → download.

Starts `streamlit run app.py` on a free port and drives Debian's headless Chromium with Playwright.
Screenshots of every step land in test-artifacts/e2e/ (look at them).
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _shot(page, name: str) -> None:
    """Screenshot once tables and charts have drawn (they render after the script finishes;
    tables below the fold draw only when scrolled to, so no element can be awaited for them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover tooltip over the picture
    page.wait_for_timeout(2_000)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_guided_path_to_downloaded_adapter(app_url, browser):
    started = time.time()
    page = browser.new_page(viewport={"width": 1280, "height": 2000}, accept_downloads=True)
    page.goto(app_url)
    settle(page)
    page.get_by_text("CPU cores").wait_for()
    _shot(page, "01-home")
    page.get_by_role("button", name="Start").click()

    page.get_by_text("Ready: all-MiniLM-L6-v2").wait_for(timeout=30_000)
    settle(page)
    _shot(page, "02-model")
    page.get_by_role("button", name="Next: your data").click()

    page.get_by_role("button", name="Use the sample data").click()
    page.get_by_text("2,483 rows").wait_for(timeout=30_000)
    page.get_by_text("Verdict: needs fixing").wait_for(timeout=60_000)
    settle(page)
    _shot(page, "03-data")
    # Fix in a click: the sample's labels are spelled several ways (" Positive", "NEGATIVE").
    page.get_by_role("button", name="Spell labels one way in 3 rows").click()
    page.get_by_text("Cleaned from sample_reviews.csv with: normalize labels").wait_for(
        timeout=60_000
    )
    settle(page)
    _shot(page, "03b-data-fixed")
    page.get_by_role("button", name="Next: train").click()

    # Auto is the default; a short budget keeps the suite's time (the app suggests 5 minutes).
    assert page.get_by_role("radio", name="Auto").is_checked()
    budget = page.get_by_label("Time budget for Auto (minutes)", exact=True)
    budget.fill("1.5")
    budget.press("Enter")
    settle(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"Running · [\d.]+ of 1\.5 minutes · Auto: trial 1")).wait_for(
        timeout=90_000
    )
    _shot(page, "04-train-running")

    # A reload (or a second tab) starts a new session: it must find the running search again.
    page.goto(f"{app_url}/train")
    page.get_by_text(re.compile(r"(Running|Completed) · [\d.]+ of 1\.5 minutes")).wait_for(
        timeout=60_000
    )
    assert page.get_by_text("Upload a data file").count() == 0  # it took over the job's choices
    # and the budget the search runs under (the new session's default would say 5)
    assert page.get_by_label("Time budget for Auto (minutes)", exact=True).input_value() == "1.50"

    page.get_by_role("button", name="Next: see the results").wait_for(timeout=480_000)
    settle(page)
    assert (
        page.get_by_text(re.compile(r"Auto tried (1 setting|\d+ settings) ")).count() == 1
    )  # and why
    _shot(page, "05-train-done")
    page.get_by_role("button", name="Next: see the results").click()

    page.get_by_role("heading", name="How good is your model?").wait_for(timeout=30_000)
    page.get_by_text("Validation accuracy").wait_for(timeout=30_000)
    accuracy_text = page.locator("[data-testid='stMetricValue']").first.inner_text()
    accuracy = float(accuracy_text.strip("%")) / 100
    assert accuracy > 0.6, f"validation accuracy {accuracy} is not well above chance (0.40)"

    box = page.get_by_label("Type a sentence")
    box.fill("Absolutely terrible. It broke after one day and support never answered.")
    box.press("Enter")
    page.get_by_text("Predicted label:").wait_for(timeout=60_000)
    settle(page)
    assert "negative" in page.get_by_text("Predicted label:").inner_text().lower()
    _shot(page, "06-results")

    with page.expect_download() as download_info:
        # Auto's winner is a LoRA adapter or, for a classifier, may train every weight.
        page.get_by_role(
            "button", name=re.compile(r"Download the (adapter|model) \(\.zip\)")
        ).click()
    data = Path(download_info.value.path()).read_bytes()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"adapter/adapter_model.safetensors", "adapter/model.safetensors"} & set(names)
    assert {"config.yaml", "README.md", "eval.json"} <= set(names)
    print(
        f"guided path: clicked through to a downloaded adapter in {time.time() - started:.0f} s "
        f"(validation accuracy {accuracy:.1%})"
    )
