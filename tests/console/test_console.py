"""The curator console: signed-in curators see their galleries (private ones too) with covers and counts,
and a gallery as a grid of lazy thumbnails from the renditions' srcset, with title, number, rating and
tags; pages and orderings follow the API's; a visitor is sent to sign in and back; every link, form and
asset stays under the request's stage prefix; nothing inline for the Content-Security-Policy to refuse."""

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.wsgi import get_wsgi_application
from rest_framework.test import APIClient
from werkzeug.test import Client as WsgiClient

from console.views import ORDERING_LABELS
from photos.ordering import ORDERINGS
from tests.factories import jpeg_bytes
from tests.security.pages import assert_strict_csp, csp_directives, page_of
from tests.signing_in import signed_in

PARIS = {"name": "Paris", "continent": "Europe", "country": "France"}


class _Elements(HTMLParser):
    """Every start tag of a page with its attributes, and the page's text."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        if data.strip():
            self.text.append(" ".join(data.split()))


def elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


def tags_named(html: str, name: str) -> list[dict]:
    return [attrs for tag, attrs in elements(html).tags if tag == name]


def gallery_create(curator: APIClient, **fields) -> str:
    created = curator.post("/api/galleries", {**PARIS, **fields}, format="json")
    assert created.status_code == 201, created.content
    return created.json()["galleryId"]


def photos_upload(curator: APIClient, gallery_id: str, count: int) -> list[dict]:
    files = [
        SimpleUploadedFile(f"shot{n}.jpg", jpeg_bytes(480, 320, colour=(20 * n, 90, 160)), "image/jpeg")
        for n in range(count)
    ]
    uploaded = curator.post(f"/api/galleries/{gallery_id}/photos", {"photos": files}, format="multipart")
    assert uploaded.status_code == 201, uploaded.content
    return sorted(uploaded.json()["photos"], key=lambda photo: photo["photoNumber"])


def photo_edit(curator: APIClient, photo: dict, **fields) -> dict:
    edited = curator.patch(
        f"/api/galleries/{photo['galleryId']}/photos/{photo['photoId']}", fields, format="json"
    )
    assert edited.status_code == 200, edited.content
    return edited.json()


def test_a_visitor_is_sent_to_sign_in_and_back(aws, curator_key):
    visitor = APIClient(enforce_csrf_checks=True)
    for path in ("/console/", "/console/galleries/g1/?ordering=takenAt"):
        answer = visitor.get(path)
        assert answer.status_code == 302
        target = urlsplit(answer["Location"])
        assert target.path == "/api/auth/login"
        assert parse_qs(target.query)["next"] == [path]
    # Signing in with that link lands on the console.
    csrf = visitor.get("/api/auth/login?next=/console/").cookies["csrftoken"].value
    signed = visitor.post(
        "/api/auth/login", {"key": curator_key, "csrfmiddlewaretoken": csrf, "next": "/console/"}
    )
    assert signed.status_code == 302 and signed["Location"] == "/console/"
    assert visitor.get("/console/").status_code == 200


def test_the_sign_in_page_links_to_the_console(aws):
    links = [
        attrs.get("href") for attrs in tags_named(APIClient().get("/api/auth/login").content.decode(), "a")
    ]
    assert "/console/" in links


def test_a_wrong_key_in_a_header_opens_nothing(aws):
    answer = APIClient().get("/console/", HTTP_AUTHORIZATION="Bearer gk_not-a-key")
    assert answer.status_code == 302 and answer["Location"].startswith("/api/auth/login?")


def test_signing_out_closes_the_console(aws, curator_key):
    browser = signed_in(curator_key)
    page = browser.get("/console/").content.decode()
    [form] = [attrs for attrs in tags_named(page, "form") if attrs.get("action") == "/api/auth/logout"]
    assert form["method"] == "post"
    csrf = browser.cookies["csrftoken"].value
    out = browser.post("/api/auth/logout", {"csrfmiddlewaretoken": csrf, "next": "/console/"})
    assert out.status_code == 302 and out["Location"] == "/console/"
    assert browser.get("/console/").status_code == 302


def test_curators_see_every_gallery_with_its_cover_place_years_count_and_visibility(
    aws, curator, curator_key
):
    public = gallery_create(curator, name="Paris in June", years=[2019])
    private = gallery_create(
        curator, name="Secret garden", visibility="private", country="Japan", continent="Asia"
    )
    photos_upload(curator, public, 2)
    browser = signed_in(curator_key)

    answer = browser.get("/console/")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/html")
    assert "no-cache" in answer["Cache-Control"] or "no-store" in answer["Cache-Control"]
    html = answer.content.decode()
    text = " ".join(elements(html).text)
    assert "Paris in June" in text and "Secret garden" in text
    assert "2 photos" in text and "0 photos" in text
    assert "Japan, Asia" in text and "France, Europe" in text
    assert "Private" in text and "Public" in text
    assert "2019" in text and "2023" in text  # the curator's year and the photos' (taken 2023)
    links = [attrs["href"] for attrs in tags_named(html, "a")]
    assert f"/console/galleries/{public}/" in links and f"/console/galleries/{private}/" in links
    # The gallery with photos shows its cover (the API's coverPhotoURL); the empty one says so.
    cover = curator.get(f"/api/galleries/{public}").json()["coverPhotoURL"]
    [img] = tags_named(html, "img")
    # Decorative inside its link: the link is named by the gallery's heading, said once.
    assert img["src"] == cover and img["alt"] == "" and img["loading"] == "lazy"
    assert "No photo yet" in text
    # Its Content-Security-Policy lets the cover show (its origin only) and stays strict otherwise.
    policy = answer["Content-Security-Policy"]
    assert_strict_csp(policy)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(cover))
    assert origin in csp_directives(policy)["img-src"]


def test_a_private_gallery_opens_for_a_curator_and_not_for_visitors_of_the_api(aws, curator, curator_key):
    private = gallery_create(curator, name="Secret garden", visibility="private")
    photos_upload(curator, private, 1)
    page = signed_in(curator_key).get(f"/console/galleries/{private}/")
    assert page.status_code == 200
    assert "Secret garden" in page.content.decode() and len(tags_named(page.content.decode(), "img")) == 1
    assert APIClient().get(f"/api/galleries/{private}").status_code == 404


def test_the_grid_shows_each_photo_as_a_lazy_thumbnail_with_title_number_rating_and_tags(
    aws, curator, curator_key
):
    gallery_id = gallery_create(curator)
    first, second = photos_upload(curator, gallery_id, 2)
    first = photo_edit(
        curator, first, title="Eiffel at dusk", tags=["tower", "night"], altText="The tower, lit"
    )
    rated = APIClient().put(f"/api/photos/{second['photoId']}/ratings/v1", {"rating": 4}, format="json")
    assert rated.status_code == 201, rated.content
    APIClient().put(f"/api/photos/{second['photoId']}/ratings/v2", {"rating": 5}, format="json")

    page = signed_in(curator_key).get(f"/console/galleries/{gallery_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    images = tags_named(html, "img")
    assert len(images) == 2
    answers = {
        photo["photoId"]: photo
        for photo in curator.get(f"/api/galleries/{gallery_id}/photos").json()["results"]
    }
    by_src = {}
    for photo in answers.values():
        smallest = next(image for image in photo["images"] if image["format"] == "jpeg")
        by_src[smallest["url"].split("?")[0]] = (photo, smallest)
    for img in images:
        photo, smallest = by_src[img["src"].split("?")[0]]
        assert img["loading"] == "lazy" and img["sizes"]
        # The API's own srcset and sizes (signed URLs differ per answer only in their signature).
        assert [entry.split("?")[0] + " " + entry.split()[-1] for entry in img["srcset"].split(", ")] == [
            entry.split("?")[0] + " " + entry.split()[-1] for entry in photo["srcset"]["jpeg"].split(", ")
        ]
        assert (int(img["width"]), int(img["height"])) == (smallest["width"], smallest["height"])
        assert img["alt"] == (photo["altText"] or photo["title"])
    # A WebP source beside each JPEG, with the same sizes.
    sources = tags_named(html, "source")
    assert [source["type"] for source in sources] == ["image/webp", "image/webp"]
    assert all(source["sizes"] == images[0]["sizes"] for source in sources)

    text = " ".join(elements(html).text)
    assert "Eiffel at dusk" in text and "No. 1" in text and "No. 2" in text
    assert {img["alt"] for img in images} == {"The tower, lit", second["title"]}
    assert "4.5 ★ from 2 ratings" in text and "Not rated yet" in text
    tag_items = [data for data in elements(html).text if data in ("tower", "night")]
    assert tag_items == ["tower", "night"]


def test_photos_come_a_page_at_a_time_with_a_next_link_in_the_chosen_ordering(aws, curator, curator_key):
    gallery_id = gallery_create(curator)
    photos_upload(curator, gallery_id, 3)
    browser = signed_in(curator_key)

    first = browser.get(f"/console/galleries/{gallery_id}/?page_size=2&ordering=-uploadedAt").content.decode()
    assert len(tags_named(first, "img")) == 2
    [next_link] = [attrs["href"] for attrs in tags_named(first, "a") if attrs.get("rel") == "next"]
    target = urlsplit(next_link)
    assert target.path == f"/console/galleries/{gallery_id}/"
    query = parse_qs(target.query)
    assert query["ordering"] == ["-uploadedAt"] and query["page_size"] == ["2"] and query["cursor"]

    second = browser.get(next_link).content.decode()
    assert len(tags_named(second, "img")) == 1
    assert [attrs for attrs in tags_named(second, "a") if attrs.get("rel") == "next"] == []
    [previous] = [attrs["href"] for attrs in tags_named(second, "a") if attrs.get("rel") == "prev"]
    assert "cursor" not in parse_qs(urlsplit(previous).query)
    # Together the two pages hold each photo once.
    numbers = [text for text in elements(first).text + elements(second).text if text.startswith("No. ")]
    assert sorted(numbers) == ["No. 1", "No. 2", "No. 3"]
    # By number (the default, which the links leave out), in that order.
    by_number = browser.get(f"/console/galleries/{gallery_id}/?page_size=2").content.decode()
    [next_link] = [attrs["href"] for attrs in tags_named(by_number, "a") if attrs.get("rel") == "next"]
    assert "ordering" not in parse_qs(urlsplit(next_link).query)
    numbers = [text for text in elements(by_number).text if text.startswith("No. ")]
    assert numbers == ["No. 1", "No. 2"]


def test_the_ordering_form_offers_every_ordering_of_the_api(aws, curator, curator_key):
    assert list(ORDERING_LABELS) == list(ORDERINGS)
    gallery_id = gallery_create(curator)
    html = signed_in(curator_key).get(f"/console/galleries/{gallery_id}/?ordering=takenAt").content.decode()
    [form] = [attrs for attrs in tags_named(html, "form") if attrs.get("class") == "ordering"]
    assert form["method"] == "get" and form["action"] == f"/console/galleries/{gallery_id}/"
    assert [attrs["value"] for attrs in tags_named(html, "option")] == list(ORDERINGS)
    assert [attrs["value"] for attrs in tags_named(html, "option") if "selected" in attrs] == ["takenAt"]
    [select] = tags_named(html, "select")
    assert select["id"] == "ordering" and {"for": "ordering"} in tags_named(html, "label")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/console/galleries/nope/", 404),
        ("/console/galleries/{gallery}/?ordering=sideways", 400),
        ("/console/galleries/{gallery}/?cursor=forged", 400),
        ("/console/?cursor=forged", 400),
    ],
)
def test_a_missing_gallery_or_a_bad_link_is_a_console_page_that_says_so(
    aws, curator, curator_key, path, status
):
    gallery_id = gallery_create(curator)
    answer = signed_in(curator_key).get(path.format(gallery=gallery_id))
    assert answer.status_code == status and answer["Content-Type"].startswith("text/html")
    assert [attrs for attrs in tags_named(answer.content.decode(), "p") if attrs.get("role") == "alert"]


def test_the_console_serves_only_get(aws, curator_key):
    browser = signed_in(curator_key)
    answer = browser.post("/console/", {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value})
    assert answer.status_code == 405 and answer["Allow"] == "GET, HEAD"


def test_pages_are_labelled_landmarks_with_nothing_inline(aws, curator, curator_key):
    gallery_id = gallery_create(curator)
    photos_upload(curator, gallery_id, 1)
    browser = signed_in(curator_key)
    pages = {"/console/": [], f"/console/galleries/{gallery_id}/": ["/static/console/upload.js"]}
    for path, scripts in pages.items():
        answer = browser.get(path)
        html = answer.content.decode()
        assert_strict_csp(answer["Content-Security-Policy"])
        page = page_of(html)
        assert page.inline == [] and page.scripts == scripts and "<style" not in html
        for script in scripts:
            assert browser.get(script)["Content-Type"].startswith("text/javascript")
        assert page.stylesheets == ["/static/console/console.css"]
        assert browser.get(page.stylesheets[0])["Content-Type"].startswith("text/css")
        names = [tag for tag, _ in elements(html).tags]
        assert {"header", "nav", "main", "h1"} <= set(names) and names.count("h1") == 1
        assert tags_named(html, "html")[0]["lang"] == "en"
        skip = tags_named(html, "a")[0]
        assert skip["href"] == "#main" and tags_named(html, "main")[0]["id"] == "main"
        # Every picture says what it is, but a gallery's cover, which its link's heading names.
        for attrs in tags_named(html, "img"):
            assert attrs["alt"] or "cover" in attrs.get("class", ""), attrs


def _uploaders(html: str) -> list[dict]:
    return [attrs for tag, attrs in elements(html).tags if "data-uploader" in attrs]


def _hrefs(html: str) -> list[str]:
    found = []
    for tag, attrs in elements(html).tags:
        for name in ("href", "src", "action", "data-base", "data-client"):
            if name in attrs and tag != "img":  # images are the bucket's URLs
                found.append(attrs[name])
    return found


@pytest.mark.parametrize("script_name", ["/prod", ""])
def test_every_link_form_and_asset_stays_under_the_stage_prefix(aws, curator, curator_key, script_name):
    """Driven through the WSGI application itself, as Zappa runs a request on the stage's default domain
    (SCRIPT_NAME=/prod) or a custom one (none): sign in from the console's redirect, then walk its pages."""
    gallery_id = gallery_create(curator)
    photos_upload(curator, gallery_id, 3)
    base = f"http://127.0.0.1{script_name}"
    browser = WsgiClient(get_wsgi_application())

    sent = browser.get("/console/", base_url=base)
    assert sent.status_code == 302
    target = urlsplit(sent.headers["Location"])
    assert target.path == f"{script_name}/api/auth/login"
    assert parse_qs(target.query)["next"] == [f"{script_name}/console/"]
    login = browser.get("/api/auth/login", query_string=target.query, base_url=base)
    [form] = tags_named(login.get_data(as_text=True), "form")
    assert form["action"] == ""  # posts to itself, under the prefix
    csrf = browser.get_cookie("csrftoken", domain="127.0.0.1").value
    signed = browser.post(
        "/api/auth/login",
        data={"key": curator_key, "csrfmiddlewaretoken": csrf, "next": f"{script_name}/console/"},
        base_url=base,
    )
    assert signed.status_code == 302 and signed.headers["Location"] == f"{script_name}/console/"

    pages = ["/console/", f"/console/galleries/{gallery_id}/?page_size=2"]
    seen = set()
    while pages:
        path = pages.pop()
        answer = browser.get(path, base_url=base)
        assert answer.status_code == 200, (path, answer.status_code)
        html = answer.get_data(as_text=True)
        links = _hrefs(html)
        assert links
        for link in links:
            if link == "#main":
                continue
            assert link.startswith(f"{script_name}/"), (path, link)
            local = link.removeprefix(script_name)
            if local.startswith("/console/") and local not in seen:
                seen.add(local)
                pages.append(local)
        for asset in page_of(html).stylesheets:
            served = browser.get(asset.removeprefix(script_name), base_url=base)
            assert served.status_code == 200 and served.mimetype == "text/css"
        for asset in page_of(html).scripts + [attrs["data-client"] for attrs in _uploaders(html)]:
            served = browser.get(asset.removeprefix(script_name), base_url=base)
            assert served.status_code == 200 and served.mimetype == "text/javascript"
    # Both pages of photos were reached through their links, and the new gallery's form.
    assert any("cursor=" in path for path in seen) and "/console/galleries/new/" in seen
