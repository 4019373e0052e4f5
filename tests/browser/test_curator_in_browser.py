"""In headless chromium a curator signs in, creates a gallery and uploads a photo in the browsable API;
every page loads under its Content-Security-Policy with no violation, its styles applied and its scripts
run. The pages are served as `make run` and Lambda serve them: static files collected (hashed, gzipped)
and served by WhiteNoise from the application itself."""

import pytest

from galleries.models import Gallery
from photos.models import GalleryPhoto
from tests.browser.console import csp_violations
from tests.factories import SAMPLES

pytestmark = pytest.mark.browser


# Every stylesheet the page links is loaded and parsed (its rules readable: same origin), every script ran.
PAGE_STATE = """
const navbar = document.querySelector('.navbar');
const sheets = [...document.querySelectorAll('link[rel="stylesheet"]')];
return {
  stylesheets: sheets.length,
  loaded: sheets.filter(link => link.sheet && link.sheet.cssRules.length > 0).length,
  scripts: document.querySelectorAll('script[src]').length,
  jquery: typeof window.jQuery === 'function',
  prettified: document.querySelectorAll('pre.prettyprint span.pln').length,
  navbar: navbar && getComputedStyle(navbar).backgroundColor,
  bodyWidth: getComputedStyle(document.body).maxWidth,
};
"""


def assert_page_whole(browser, *, api_page: bool = True) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    if api_page:  # prettify (run by DRF's default.js on load) colours the request and the answer
        WebDriverWait(browser, 10).until(lambda driver: driver.execute_script(PAGE_STATE)["prettified"] > 0)
    state = browser.execute_script(PAGE_STATE)
    assert state["stylesheets"] > 0 and state["loaded"] == state["stylesheets"], state
    if api_page:  # Bootstrap's dark navbar, and jQuery
        assert state["navbar"] not in (None, "rgba(0, 0, 0, 0)") and state["jquery"], state
    assert csp_violations(browser) == []
    return state


def test_pages_load_under_their_csp_with_styles_applied_and_scripts_run(live_url, browser, curator_key):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 15)
    for path in ("/api/", "/api/galleries"):
        browser.get(f"{live_url}{path}")
        assert_page_whole(browser)

    browser.get(f"{live_url}/api/auth/login?next=/api/galleries")
    state = assert_page_whole(browser, api_page=False)
    assert state["bodyWidth"] == "512px"  # 32rem, from gallery/login.css
    browser.find_element(By.ID, "key").send_keys(curator_key)
    browser.find_element(By.ID, "sign-in").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sign-out")))
    # Signed in: the forms (HTML and raw data tabs, driven by DRF's scripts) and the sign-out form, whose
    # inline display comes from gallery/api.css rather than a style attribute.
    assert_page_whole(browser)
    sign_out = browser.find_element(By.CSS_SELECTOR, "form.sign-out-form")
    assert sign_out.value_of_css_property("display") == "inline"
    browser.find_element(By.CSS_SELECTOR, 'a[name="raw-tab"]').click()
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "id__content")))
    assert csp_violations(browser) == []

    # The check sees what the policy refuses: an inline style added now is reported.
    browser.execute_script(
        "const s = document.createElement('style'); s.textContent = 'p {}'; document.head.append(s)"
    )
    assert any("style-src" in message for message in csp_violations(browser))


def test_curator_signs_in_and_creates_a_gallery_from_the_browsable_api(live_url, browser, curator_key):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 15)
    browser.get(f"{live_url}/api/galleries")
    assert "Photography Gallery API" in browser.title
    # A visitor gets no form to POST with.
    assert not browser.find_elements(By.CSS_SELECTOR, 'form[enctype="multipart/form-data"]')

    browser.find_element(By.ID, "sign-in-link").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "key")))
    browser.find_element(By.ID, "key").send_keys(curator_key)
    browser.find_element(By.ID, "sign-in").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sign-out")))
    assert browser.current_url.endswith("/api/galleries")

    form = 'form[enctype="multipart/form-data"]'
    for field, value in (("name", "From the browser"), ("continent", "asia"), ("country", "Japan")):
        browser.find_element(By.CSS_SELECTOR, f'{form} input[name="{field}"]').send_keys(value)
    browser.find_element(By.CSS_SELECTOR, f"{form} button").click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "body"), "201 Created"))

    [gallery] = list(Gallery.scan())
    assert gallery.name == "From the browser" and gallery.continent == "Asia"

    # Upload a real camera photo through the browsable API's upload form.
    browser.get(f"{live_url}/api/galleries/{gallery.gallery_id}/photos")
    sample = SAMPLES / "cameras" / "Canon_40D.jpg"
    browser.find_element(By.CSS_SELECTOR, f'{form} input[name="photos"]').send_keys(str(sample))
    browser.find_element(By.CSS_SELECTOR, f'{form} input[name="tags"]').send_keys("canon, test")
    browser.find_element(By.CSS_SELECTOR, f"{form} button").click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "body"), "201 Created"))
    [photo] = list(GalleryPhoto.query(gallery.gallery_id))
    assert photo.title == "Canon_40D" and photo.tags == ["canon", "test"]
    assert photo.exif_data.as_dict()["make"] == "Canon"

    browser.find_element(By.ID, "sign-out").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sign-in-link")))
    assert csp_violations(browser) == []
