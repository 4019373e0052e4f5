"""In headless chromium a curator signs in, creates a gallery and uploads a photo in the browsable API."""

import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.wsgi import get_wsgi_application

from galleries.models import Gallery
from photos.models import GalleryPhoto
from tests.factories import SAMPLES

pytestmark = pytest.mark.browser


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadedServer(WSGIServer):
    daemon_threads = True


@pytest.fixture
def live_url(aws, settings):
    """The real WSGI app (with static files) on a free loopback port, inside the test's moto."""
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    server = make_server(
        "127.0.0.1", 0, StaticFilesHandler(get_wsgi_application()), _ThreadedServer, _QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


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
