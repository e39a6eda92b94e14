"""A bookmarked page as the very first request to a fresh server still gets the app's router."""

import pytest

pytestmark = [pytest.mark.browser]


def test_cold_deep_link_shows_the_page_with_the_apps_navigation(app_url, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{app_url}/experts")  # this module's server has served nothing before
    page.get_by_role("heading", name="Expert settings").wait_for(timeout=60_000)
    nav = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "Guided" in nav and "Experts" in nav
    assert "common" not in nav and "live view" not in nav  # not the raw pages/ folder listing
