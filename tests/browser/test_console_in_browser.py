"""The curator console in headless chromium, under the stage prefix a default Zappa URL has (``/prod``),
on DynamoDB Local and s3rver as `make run` serves it: a curator signs in, creates a gallery, picks a
card's worth of real camera photos (one over API Gateway's limit, which goes straight to the local S3
through its upload slot, and one file that is no photo, refused on its own line while the others go on),
drags one more in, watches the grid fill, edits a photo, chooses another cover, deletes a photo and then
the gallery. Every page loads its pictures and runs under its Content-Security-Policy with no violation.
The same pages are walked at the root (a custom domain). With ``GALLERY_CONSOLE_SCREENSHOTS=<folder>`` the
main pages are saved there as PNGs (`make screenshots` writes docs/console/)."""

import io
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from galleries.models import Gallery
from photos.models import GalleryPhoto
from ratings.models import PhotoRating
from tests.browser.conftest import STAGE
from tests.browser.console import csp_violations
from tests.factories import SAMPLES
from tests.faults.injection import failing_calls

pytestmark = pytest.mark.browser

# The JS client sends a file larger than this straight to S3 (DEFAULT_DIRECT_UPLOAD_THRESHOLD).
DIRECT_THRESHOLD = 4 * 1024 * 1024
REAL_PHOTOS = ("Canon_40D.jpg", "Nikon_D70.jpg", "Pentax_K10D.jpg")
SCREENSHOTS = os.environ.get("GALLERY_CONSOLE_SCREENSHOTS")

# Every <img> of the page in view (lazy ones below are not asked for yet) has its pixels.
IMAGES_STATE = """
const images = [...document.querySelectorAll('main img')].filter(
  img => img.getBoundingClientRect().top < window.innerHeight);
return {
  count: images.length,
  loaded: images.filter(img => img.complete && img.naturalWidth > 0).length,
  sources: images.map(img => img.currentSrc),
};
"""
# A photo drawn in the page and dropped on the drop zone, as a file dragged from the desktop arrives.
DROP_A_PHOTO = """
const done = arguments[arguments.length - 1];
const canvas = document.createElement('canvas');
canvas.width = 320; canvas.height = 240;
const pen = canvas.getContext('2d');
pen.fillStyle = '#2a6f97'; pen.fillRect(0, 0, 320, 240);
pen.fillStyle = '#f4d35e'; pen.fillRect(40, 40, 120, 90);
canvas.toBlob((blob) => {
  const dropped = new DataTransfer();
  dropped.items.add(new File([blob], 'Dropped.jpg', { type: 'image/jpeg' }));
  const zone = document.querySelector('.drop');
  zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dropped, bubbles: true, cancelable: true }));
  done(zone.classList.contains('drop-over'));
  zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dropped, bubbles: true, cancelable: true }));
}, 'image/jpeg', 0.9);
"""
# The uploader's requests, recorded as the page makes them (method and URL).
RECORD_REQUESTS = """
window.sentRequests = [];
const open = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function (method, url) {
  window.sentRequests.push(method + ' ' + new URL(url, location.href).href);
  return open.apply(this, arguments);
};
"""


def large_camera_photo(path: Path) -> Path:
    """A real camera JPEG (its EXIF kept) enlarged to 3000 x 2000 with grain, saved finely: over 4.5 MB,
    more than one API Gateway request holds."""
    source = Image.open(SAMPLES / "cameras" / "Canon_40D.jpg")
    exif = source.info["exif"]
    grain = Image.effect_noise((3000, 2000), 64).convert("RGB")
    photo = Image.blend(source.convert("RGB").resize((3000, 2000)), grain, 0.4)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=98, subsampling=0, exif=exif)
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size > 4.5 * 1024 * 1024
    return path


def assert_page_whole(browser, wait) -> None:
    """No policy violation, and every picture of the page loaded (the renditions from the local S3)."""
    wait.until(lambda driver: (state := driver.execute_script(IMAGES_STATE))["loaded"] == state["count"])
    assert csp_violations(browser) == []


def shot(browser, tmp_path: Path, name: str) -> None:
    browser.save_screenshot(str(tmp_path / f"{name}.png"))
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / f"{name}.png", Path(SCREENSHOTS) / f"{name}.png")


def test_a_curator_runs_a_gallery_from_the_console_under_the_stage_prefix(
    local_live_url, local_store, browser, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 30)
    site = f"{local_live_url}{STAGE}"

    def click_and_land(css: str, done: str) -> None:
        browser.find_element(By.CSS_SELECTOR, css).click()
        wait.until(expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, "p.done"), done))
        assert_page_whole(browser, wait)

    # Signing in from the console's redirect, under the stage.
    browser.get(f"{site}/console/")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "key")))
    assert urlsplit(browser.current_url).path == f"{STAGE}/api/auth/login"
    browser.find_element(By.ID, "key").send_keys(local_store.curator_key)
    browser.find_element(By.ID, "sign-in").click()
    wait.until(expected_conditions.presence_of_element_located((By.LINK_TEXT, "New gallery")))
    assert urlsplit(browser.current_url).path == f"{STAGE}/console/"

    # A new gallery, from its form.
    browser.find_element(By.LINK_TEXT, "New gallery").click()
    browser.find_element(By.ID, "field-name").send_keys("Harbours of Europe")
    Select(browser.find_element(By.ID, "field-continent")).select_by_visible_text("Europe")
    browser.find_element(By.ID, "field-country").send_keys("Portugal")
    browser.find_element(By.ID, "field-years").send_keys("2008, 2009")
    click_and_land('form.edit button[type="submit"]', "The gallery is created")
    [gallery] = list(Gallery.scan())
    assert (gallery.name, gallery.continent, gallery.years) == ("Harbours of Europe", "Europe", [2008, 2009])
    assert urlsplit(browser.current_url).path == f"{STAGE}/console/galleries/{gallery.gallery_id}/"

    # A card's worth, picked at once: three real photos, one too large for API Gateway, one that is no photo.
    # DynamoDB fails one write on the way: the uploader tries that file again, with the same key.
    wait.until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, ".uploader.ready .drop")))
    browser.execute_script(RECORD_REQUESTS)
    large = large_camera_photo(tmp_path / "Harbour_large.jpg")
    not_a_photo = tmp_path / "notes.jpg"
    not_a_photo.write_text("Shopping list: film, batteries.")
    files = [SAMPLES / "cameras" / name for name in REAL_PHOTOS] + [large, not_a_photo]
    summary = (By.CSS_SELECTOR, ".upload-summary")
    with failing_calls("dynamodb", "TransactWriteItems", "ServiceUnavailable", times=1) as failing:
        browser.find_element(By.ID, "files").send_keys("\n".join(str(path) for path in files))
        wait.until(expected_conditions.text_to_be_present_in_element(summary, "All done"))
    assert failing.failed == 1
    assert browser.find_element(*summary).text == (
        "4 added, 1 not added (notes.jpg: The file is not an image). All done."
    )
    rows = {
        row.find_element(By.CSS_SELECTOR, ".upload-name").text.split(" (")[0]: row
        for row in browser.find_elements(By.CSS_SELECTOR, ".upload-file")
    }
    assert list(rows) == [path.name for path in files]
    for name in [*REAL_PHOTOS, large.name]:
        assert rows[name].find_element(By.CSS_SELECTOR, ".upload-state").text.startswith("Added as No. ")
        assert rows[name].find_element(By.TAG_NAME, "progress").get_attribute("value") == "1"
    refusal = rows["notes.jpg"].find_element(By.CSS_SELECTOR, ".upload-state").text
    assert refusal == "Not added: The file is not an image."  # the server's own words for it
    # The large file went to the local S3 through its slot, the others to the API in one request each.
    sent = browser.execute_script("return window.sentRequests")
    s3_origin = local_store.services.s3.endpoint_url.rstrip("/")
    to_s3 = [request for request in sent if request.startswith(f"POST {s3_origin}/")]
    to_api = [request for request in sent if request.startswith(f"POST {local_live_url}{STAGE}/api/")]
    assert len(to_s3) == 1, sent
    # Four files in one request each, a slot and a completion for the large one, and the one retry.
    assert len(to_api) == 4 + 2 + 1, sent
    assert sum(request.endswith("/uploads") for request in to_api) == 1, sent

    # One more, dragged and dropped; the zone shows it is a drop target while the file is over it.
    assert browser.execute_async_script(DROP_A_PHOTO) is True
    wait.until(expected_conditions.text_to_be_present_in_element(summary, "5 added"))
    assert browser.find_element(*summary).text == (
        "5 added, 1 not added (notes.jpg: The file is not an image). All done."
    )
    assert browser.find_elements(By.CSS_SELECTOR, ".upload-state")[-1].text.startswith("Added as No. ")

    # The grid filled itself: five photos with their thumbnails from the local S3.
    wait.until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "[data-photos] li.photo")) == 5)
    assert_page_whole(browser, wait)
    sources = browser.execute_script(IMAGES_STATE)["sources"]
    browser.execute_script("document.querySelector('[data-photos] li.photo:last-child').scrollIntoView()")
    assert_page_whole(browser, wait)  # the last ones, loaded lazily once in view
    sources += browser.execute_script(IMAGES_STATE)["sources"]
    assert len(set(sources)) == 5 and all(source.startswith(s3_origin) for source in sources), sources
    photos = sorted(GalleryPhoto.query(gallery.gallery_id), key=lambda photo: photo.photo_number)
    # Numbers are unique, not gapless: the write that failed had taken one.
    numbers = [photo.photo_number for photo in photos]
    assert len(set(numbers)) == 5 and max(numbers) <= Gallery.get(gallery.gallery_id).last_photo_number
    titles = {"Canon_40D", "Nikon_D70", "Pentax_K10D", "Harbour_large", "Dropped"}
    assert {photo.title for photo in photos} == titles
    large_photo = next(photo for photo in photos if photo.title == "Harbour_large")
    assert large_photo.exif_data.as_dict()["make"] == "Canon"
    browser.execute_script("window.scrollTo(0, 0)")
    shot(browser, tmp_path, "gallery")

    # A photo edited in place.
    second = photos[1]
    browser.get(f"{site}/console/galleries/{gallery.gallery_id}/photos/{second.photo_id}/edit/")
    for field_id, value in (("field-title", "Quay at dawn"), ("field-tags", "harbour, dawn"),
                            ("field-altText", "Boats moored along a stone quay")):  # fmt: skip
        element = browser.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)
    assert_page_whole(browser, wait)
    shot(browser, tmp_path, "photo-edit")
    click_and_land('form.edit button[type="submit"]', "The photo is saved")
    edited = GalleryPhoto.get(gallery.gallery_id, second.photo_id)
    assert (edited.title, edited.tags, edited.alt_text) == (
        "Quay at dawn", ["harbour", "dawn"], "Boats moored along a stone quay"
    )  # fmt: skip
    assert "Quay at dawn" in browser.find_element(By.CSS_SELECTOR, "[data-photos]").text

    # Another cover: the third photo's button.
    third = photos[2]
    click_and_land(
        f'form.cover-choice[action$="/photos/{third.photo_id}/cover/"] button', "The cover is chosen"
    )
    assert Gallery.get(gallery.gallery_id).cover_photo_id == third.photo_id

    # The galleries at the root (a custom domain): the same session, every link and asset without the stage.
    browser.get(f"{local_live_url}/console/")
    wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".cards img.cover")))
    assert_page_whole(browser, wait)
    shot(browser, tmp_path, "galleries")
    for path in (f"/console/galleries/{gallery.gallery_id}/", "/console/"):
        browser.get(f"{local_live_url}{path}")
        assert_page_whole(browser, wait)
        links = browser.execute_script(
            "return [...document.querySelectorAll('a[href], form[action], link[href], script[src]')]"
            ".map(e => e.getAttribute('href') || e.getAttribute('action') || e.getAttribute('src'))"
        )
        assert links and not [link for link in links if link.startswith(STAGE)], links

    # A photo deleted, after a confirmation that says what goes.
    first = photos[0]
    browser.get(f"{site}/console/galleries/{gallery.gallery_id}/photos/{first.photo_id}/delete/")
    assert first.title in browser.find_element(By.TAG_NAME, "h1").text
    assert_page_whole(browser, wait)
    click_and_land("form.confirm button.danger", "The photo is deleted")
    assert len(list(GalleryPhoto.query(gallery.gallery_id))) == 4
    assert Gallery.get(gallery.gallery_id).photo_count == 4

    # The gallery deleted, after its confirmation lists its photos.
    browser.get(f"{site}/console/galleries/{gallery.gallery_id}/delete/")
    listed = browser.find_element(By.TAG_NAME, "main").text
    assert "Quay at dawn" in listed and "Harbour_large" in listed
    shot(browser, tmp_path, "gallery-delete")
    click_and_land("form.confirm button.danger", "The gallery is deleted")
    assert urlsplit(browser.current_url).path == f"{STAGE}/console/"
    assert list(Gallery.scan()) == [] and list(GalleryPhoto.scan()) == [] and list(PhotoRating.scan()) == []
    local_store.assert_consistent()
