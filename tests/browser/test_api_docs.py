"""The API's docs pages in headless chromium: Swagger UI and Redoc render every operation of the schema
from the service's own files, under the site's Content-Security-Policy, with no violation."""

import pytest

from devtools.openapi import SCHEMA_FILE, load
from tests.browser.console import csp_violations

pytestmark = pytest.mark.browser

WAIT_SECONDS = 30
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def operations_count() -> int:
    """The operations of the committed schema (tests/contract/test_schema.py: the one the code serves)."""
    schema = load(SCHEMA_FILE)
    return sum(
        method in ("get", "put", "post", "patch", "delete")
        for item in schema["paths"].values()
        for method in item
    )


def test_swagger_ui_shows_every_operation_and_takes_a_curator_key(live_url, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    expected = operations_count()
    browser.get(f"{live_url}/api/docs")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) >= expected
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, ".opblock")) == expected
    assert browser.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("Photography gallery API")
    # The curator key is a security scheme: the Authorize button is there.
    assert browser.find_elements(By.CSS_SELECTOR, ".btn.authorize")
    assert csp_violations(browser) == []


def test_redoc_shows_every_operation(live_url, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    expected = operations_count()
    browser.get(f"{live_url}/api/redoc")
    selector = "[data-section-id^='tag/'][data-section-id*='/operation/']"
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, selector)) >= expected
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, selector)) == expected
    # The one thing Redoc's bundle reaches for outside the service is its own logo, which it always puts
    # in the sidebar; the page's policy refuses it before any request (the img hides itself on error).
    refused = csp_violations(browser)
    assert all(REDOC_LOGO in message and "img-src" in message for message in refused), refused
    assert not browser.find_elements(By.CSS_SELECTOR, f"img[src='{REDOC_LOGO}']")
