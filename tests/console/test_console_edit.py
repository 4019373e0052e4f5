"""Editing from the console: a gallery's and a photo's forms come prefilled and save through the API's
own rules (what the API then answers changed; an invalid year or continent, or a version edited
meanwhile, changes nothing and says why next to the field or above the form); the cover is chosen per
photo; deletes say what goes before they go; every POST needs the CSRF token and redirects with a fixed
message; every link and form stays under the stage prefix; nothing inline."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.wsgi import get_wsgi_application
from rest_framework.test import APIClient
from werkzeug.test import Client as WsgiClient

from console import edits as console_edits
from console.forms import LOCATION_PRIVACY_LABELS, VISIBILITY_LABELS
from console.views import DONE
from core.errors import DeadlineReached, Unavailable
from core.validation import CONTINENTS
from galleries.models import LOCATION_PRIVACY, VISIBILITY
from tests.console.test_console import (
    elements,
    gallery_create,
    photo_edit,
    photos_upload,
    tags_named,
)
from tests.security.pages import assert_strict_csp, csp_directives, page_of
from tests.signing_in import signed_in


def _form_values(html: str) -> dict:
    """The values a browser would post from a page's edit form (text, selected option, checkbox)."""
    values: dict = {}
    parsed = elements(html)
    select = None
    for tag, attrs in parsed.tags:
        name = attrs.get("name")
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            if attrs.get("type") == "checkbox":
                if "checked" in attrs:
                    values[name] = "on"
            else:
                values[name] = attrs.get("value", "")
        elif tag == "select":
            select = name
        elif tag == "option" and select and "selected" in attrs:
            values[select] = attrs["value"]
    return values


def _textarea(html: str, name: str) -> str:
    start = html.index(f'name="{name}"')
    return html[html.index(">", start) + 1 : html.index("</textarea>", start)]


def _post(browser: APIClient, path: str, data: dict):
    return browser.post(path, {**data, "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})


def _alerts(html: str) -> list[dict]:
    return [attrs for attrs in tags_named(html, "p") if attrs.get("role") == "alert"]


def _error_of(html: str, name: str) -> str:
    """The error shown for a field, checked to be the one its control names in aria-describedby."""
    [control] = [attrs for tag, attrs in elements(html).tags if attrs.get("name") == name]
    assert control.get("aria-invalid") == "true"
    error_id = f"field-{name}-error"
    assert error_id in control["aria-describedby"].split()
    start = html.index(f'id="{error_id}"')
    return html[html.index(">", start) + 1 : html.index("</p>", start)]


def _gallery_form(browser: APIClient, gallery_id: str) -> dict:
    html = browser.get(f"/console/galleries/{gallery_id}/edit/").content.decode()
    return {**_form_values(html), "description": _textarea(html, "description")}


def test_the_gallery_form_is_prefilled_labelled_and_offers_the_rules_choices(aws, curator, curator_key):
    gallery_id = gallery_create(
        curator,
        name="Paris in June",
        continent="europe",
        description="Two weeks\nof rain",
        years=[2019, 2021],
        visibility="unlisted",
        locationPrivacy="approximate",
        allowOriginalDownload=True,
    )
    page = signed_in(curator_key).get(f"/console/galleries/{gallery_id}/edit/")
    assert page.status_code == 200
    html = page.content.decode()
    values = _form_values(html)
    assert values["name"] == "Paris in June" and values["country"] == "France"
    assert values["continent"] == "Europe" and values["years"] == "2019, 2021"
    assert values["visibility"] == "unlisted" and values["locationPrivacy"] == "approximate"
    assert values["allowOriginalDownload"] == "on"
    assert values["version"] == "1"
    assert _textarea(html, "description") == "Two weeks\nof rain"
    # The choices are the rules' own lists.
    options = [attrs["value"] for attrs in tags_named(html, "option")]
    assert options == [*CONTINENTS, *VISIBILITY, *LOCATION_PRIVACY]
    assert set(VISIBILITY_LABELS) == set(VISIBILITY) and set(LOCATION_PRIVACY_LABELS) == set(LOCATION_PRIVACY)
    # Every control has its label.
    labels = {attrs["for"] for attrs in tags_named(html, "label")}
    controls = [attrs for tag, attrs in elements(html).tags if tag in ("input", "select", "textarea")]
    visible = [attrs for attrs in controls if attrs.get("type") != "hidden"]
    assert len(visible) == 8 and all(attrs["id"] in labels for attrs in visible)


def test_a_valid_edit_changes_the_gallery_as_the_api_answers_it(aws, curator, curator_key):
    gallery_id = gallery_create(curator, years=[2019])
    browser = signed_in(curator_key)
    form = {
        **_gallery_form(browser, gallery_id),
        "name": "Lyon",
        "continent": "Europe",
        "description": "Markets",
        "years": "2018, 2020",
        "visibility": "private",
        "locationPrivacy": "exact",
        "allowOriginalDownload": "on",
    }
    saved = _post(browser, f"/console/galleries/{gallery_id}/edit/", form)
    assert saved.status_code == 302
    target = urlsplit(saved["Location"])
    assert target.path == f"/console/galleries/{gallery_id}/"
    assert parse_qs(target.query) == {"done": ["gallery-saved"]}
    answer = curator.get(f"/api/galleries/{gallery_id}").json()
    assert answer["name"] == "Lyon" and answer["description"] == "Markets"
    assert answer["years"] == [2018, 2020]
    assert answer["visibility"] == "private" and answer["locationPrivacy"] == "exact"
    assert answer["allowOriginalDownload"] is True
    # The page it lands on says so.
    landed = browser.get(saved["Location"]).content.decode()
    [status] = [attrs for attrs in tags_named(landed, "p") if attrs.get("role") == "status"]
    assert DONE["gallery-saved"] in landed and status["class"] == "done"


def test_an_unchecked_box_turns_downloads_off(aws, curator, curator_key):
    gallery_id = gallery_create(curator, allowOriginalDownload=True)
    browser = signed_in(curator_key)
    form = _gallery_form(browser, gallery_id)
    del form["allowOriginalDownload"]
    assert _post(browser, f"/console/galleries/{gallery_id}/edit/", form).status_code == 302
    assert curator.get(f"/api/galleries/{gallery_id}").json()["allowOriginalDownload"] is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("years", "2019, 1500", "Must be a year from 1826"),
        ("years", "twenty", "A valid integer is required."),
        ("continent", "Atlantis", "Must be one of: Africa"),
        ("name", "   ", "This field may not be blank."),
    ],
)
def test_an_invalid_field_shows_its_error_beside_it_and_changes_nothing(
    aws, curator, curator_key, field, value, message
):
    gallery_id = gallery_create(curator, years=[2019])
    before = curator.get(f"/api/galleries/{gallery_id}").json()
    browser = signed_in(curator_key)
    form = {**_gallery_form(browser, gallery_id), "description": "Not saved", field: value}
    answer = _post(browser, f"/console/galleries/{gallery_id}/edit/", form)
    assert answer.status_code == 400
    html = answer.content.decode()
    assert message in _error_of(html, field)
    assert _alerts(html)
    # What was typed is kept in the form (a continent that is not one selects none).
    assert _form_values(html).get(field) == (None if field == "continent" else value)
    assert _textarea(html, "description") == "Not saved"
    assert curator.get(f"/api/galleries/{gallery_id}").json() == before


def test_an_edit_made_meanwhile_is_shown_and_not_overwritten(aws, curator, curator_key):
    gallery_id = gallery_create(curator, name="Paris")
    browser = signed_in(curator_key)
    form = _gallery_form(browser, gallery_id)
    # Someone else edits the gallery after the form was made.
    elsewhere = curator.patch(f"/api/galleries/{gallery_id}", {"name": "Paris, edited"}, format="json")
    assert elsewhere.status_code == 200
    answer = _post(browser, f"/console/galleries/{gallery_id}/edit/", {**form, "name": "Mine"})
    assert answer.status_code == 409
    html = answer.content.decode()
    assert "changed meanwhile" in html
    # Nothing was overwritten; the form keeps what the curator typed, now over the current version.
    values = _form_values(html)
    assert values["name"] == "Mine" and values["version"] == "2"
    assert curator.get(f"/api/galleries/{gallery_id}").json()["name"] == "Paris, edited"
    # Saving that form again is the curator's decision, made knowingly: it goes through.
    again = _post(browser, f"/console/galleries/{gallery_id}/edit/", values)
    assert again.status_code == 302
    assert curator.get(f"/api/galleries/{gallery_id}").json()["name"] == "Mine"


def test_a_form_sent_back_with_an_error_keeps_the_version_it_was_opened_from(aws, curator, curator_key):
    """Someone edits meanwhile, then the curator's save fails on a typo: the form that comes back must still
    carry the version it was opened from, so the corrected save is refused (409), not an overwrite."""
    gallery_id = gallery_create(curator, name="Paris")
    browser = signed_in(curator_key)
    form = _gallery_form(browser, gallery_id)
    elsewhere = curator.patch(f"/api/galleries/{gallery_id}", {"description": "theirs"}, format="json")
    assert elsewhere.status_code == 200
    typo = _post(browser, f"/console/galleries/{gallery_id}/edit/", {**form, "years": "20199"})
    assert typo.status_code == 400
    corrected = {**_form_values(typo.content.decode()), "years": "2019"}
    assert corrected["version"] == form["version"]
    answer = _post(browser, f"/console/galleries/{gallery_id}/edit/", corrected)
    assert answer.status_code == 409
    assert curator.get(f"/api/galleries/{gallery_id}").json()["description"] == "theirs"


def test_a_photo_edit_changes_it_and_a_stale_one_does_not(aws, curator, curator_key):
    gallery_id = gallery_create(curator)
    [photo] = photos_upload(curator, gallery_id, 1)
    browser = signed_in(curator_key)
    gallery_page = browser.get(f"/console/galleries/{gallery_id}/").content.decode()
    edit_path = f"/console/galleries/{gallery_id}/photos/{photo['photoId']}/edit/"
    assert edit_path in [attrs["href"] for attrs in tags_named(gallery_page, "a")]

    html = browser.get(edit_path).content.decode()
    values = _form_values(html)
    assert values["title"] == photo["title"] and values["version"] == "0"
    saved = _post(
        browser,
        edit_path,
        {
            **values,
            "title": "Eiffel at dusk",
            "description": "From the Trocadéro",
            "tags": "Tower, night, tower,",
            "altText": "The tower, lit",
        },
    )
    assert (
        saved.status_code == 302 and saved["Location"] == f"/console/galleries/{gallery_id}/?done=photo-saved"
    )
    answer = curator.get(f"/api/galleries/{gallery_id}/photos/{photo['photoId']}").json()
    assert answer["title"] == "Eiffel at dusk" and answer["description"] == "From the Trocadéro"
    assert answer["tags"] == ["tower", "night"] and answer["altText"] == "The tower, lit"
    # The form read again shows the tags as the list they became.
    assert _form_values(browser.get(edit_path).content.decode())["tags"] == "tower, night"

    # A second edit from the old form (version 0) is refused: the photo is at version 1.
    stale = _post(browser, edit_path, {**values, "title": "Overwritten"})
    assert stale.status_code == 409 and "changed meanwhile" in stale.content.decode()
    assert _form_values(stale.content.decode())["title"] == "Overwritten"  # what was typed, kept
    assert _form_values(stale.content.decode())["version"] == "1"  # over the current version
    too_many = _post(
        browser, edit_path, {**values, "version": "1", "tags": ",".join(f"t{n}" for n in range(40))}
    )
    assert too_many.status_code == 400 and "At most 30 tags" in _error_of(too_many.content.decode(), "tags")
    assert (
        curator.get(f"/api/galleries/{gallery_id}/photos/{photo['photoId']}").json()["title"]
        == "Eiffel at dusk"
    )


def test_choosing_a_cover_sets_cover_photo_id(aws, curator, curator_key):
    gallery_id = gallery_create(curator)
    first, second = photos_upload(curator, gallery_id, 2)
    assert curator.get(f"/api/galleries/{gallery_id}").json()["coverPhotoId"] == first["photoId"]
    browser = signed_in(curator_key)
    html = browser.get(f"/console/galleries/{gallery_id}/").content.decode()
    cover_path = f"/console/galleries/{gallery_id}/photos/{second['photoId']}/cover/"
    # One cover form per photo but the cover itself.
    actions = [attrs["action"] for attrs in tags_named(html, "form") if attrs.get("method") == "post"]
    assert cover_path in actions
    assert f"/console/galleries/{gallery_id}/photos/{first['photoId']}/cover/" not in actions
    chosen = _post(browser, cover_path, {})
    assert chosen.status_code == 302 and chosen["Location"].endswith("?done=cover-chosen")
    assert curator.get(f"/api/galleries/{gallery_id}").json()["coverPhotoId"] == second["photoId"]
    # A photo of no gallery of ours is refused, and nothing changes.
    refused = _post(browser, f"/console/galleries/{gallery_id}/photos/nope/cover/", {})
    assert refused.status_code == 400
    assert curator.get(f"/api/galleries/{gallery_id}").json()["coverPhotoId"] == second["photoId"]


def test_deleting_a_photo_says_what_goes_then_deletes_it(aws, curator, curator_key):
    gallery_id = gallery_create(curator)
    first, _ = photos_upload(curator, gallery_id, 2)
    photo_edit(curator, first, title="Eiffel at dusk")
    APIClient().put(f"/api/photos/{first['photoId']}/ratings/v1", {"rating": 4}, format="json")
    browser = signed_in(curator_key)
    path = f"/console/galleries/{gallery_id}/photos/{first['photoId']}/delete/"
    page = browser.get(path)
    assert page.status_code == 200
    text = " ".join(elements(page.content.decode()).text)
    assert "Delete Eiffel at dusk?" in text
    assert "the original and" in text and "resized copies" in text and "its 1 rating" in text
    # Looking is not deleting.
    assert curator.get(f"/api/galleries/{gallery_id}/photos/{first['photoId']}").status_code == 200

    deleted = _post(browser, path, {})
    assert deleted.status_code == 302
    assert deleted["Location"] == f"/console/galleries/{gallery_id}/?done=photo-deleted"
    assert curator.get(f"/api/galleries/{gallery_id}/photos/{first['photoId']}").status_code == 404
    assert curator.get(f"/api/galleries/{gallery_id}").json()["photoCount"] == 1
    assert DONE["photo-deleted"] in browser.get(deleted["Location"]).content.decode()


def test_deleting_a_gallery_says_what_goes_then_deletes_it(aws, curator, curator_key):
    gallery_id = gallery_create(curator, name="Paris in June")
    first, _ = photos_upload(curator, gallery_id, 2)
    APIClient().put(f"/api/photos/{first['photoId']}/ratings/v1", {"rating": 5}, format="json")
    browser = signed_in(curator_key)
    path = f"/console/galleries/{gallery_id}/delete/"
    page = browser.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    text = " ".join(elements(html).text)
    assert "Delete Paris in June?" in text and "its 2 photos" in text
    assert "1 rating, 5.0 ★" in text and "not rated" in text
    assert len([attrs for attrs in tags_named(html, "li") if attrs == {}]) >= 2

    deleted = _post(browser, path, {})
    assert deleted.status_code == 302 and deleted["Location"] == "/console/?done=gallery-deleted"
    assert curator.get(f"/api/galleries/{gallery_id}").status_code == 404
    assert DONE["gallery-deleted"] in browser.get(deleted["Location"]).content.decode()


def test_a_done_message_is_only_one_of_the_fixed_ones(aws, curator_key):
    html = signed_in(curator_key).get("/console/?done=<b>You+were+hacked</b>").content.decode()
    assert "hacked" not in html and not [a for a in tags_named(html, "p") if a.get("role") == "status"]


@pytest.mark.parametrize("suffix", ["edit/", "delete/", "photos/{photo}/edit/", "photos/{photo}/delete/"])
def test_a_post_without_the_csrf_token_is_refused(aws, curator, curator_key, suffix):
    gallery_id = gallery_create(curator, name="Paris")
    [photo] = photos_upload(curator, gallery_id, 1)
    browser = signed_in(curator_key)  # enforce_csrf_checks=True
    path = f"/console/galleries/{gallery_id}/{suffix.format(photo=photo['photoId'])}"
    refused = browser.post(path, {"name": "Changed", "title": "Changed", "version": "1"})
    assert refused.status_code == 403
    assert curator.get(f"/api/galleries/{gallery_id}").json()["name"] == "Paris"
    answer = curator.get(f"/api/galleries/{gallery_id}/photos/{photo['photoId']}")
    assert answer.status_code == 200 and answer.json()["title"] == photo["title"]
    cover = browser.post(f"/console/galleries/{gallery_id}/photos/{photo['photoId']}/cover/")
    assert cover.status_code == 403


def test_a_visitor_posting_is_sent_to_sign_in(aws, curator):
    gallery_id = gallery_create(curator, name="Paris")
    answer = APIClient().post(f"/console/galleries/{gallery_id}/delete/")
    assert answer.status_code == 302 and answer["Location"].startswith("/api/auth/login?")
    assert curator.get(f"/api/galleries/{gallery_id}").status_code == 200


def test_edit_pages_have_one_heading_and_nothing_inline(aws, curator, curator_key):
    gallery_id = gallery_create(curator)
    [photo] = photos_upload(curator, gallery_id, 1)
    browser = signed_in(curator_key)
    for path in (
        f"/console/galleries/{gallery_id}/edit/",
        f"/console/galleries/{gallery_id}/delete/",
        f"/console/galleries/{gallery_id}/photos/{photo['photoId']}/edit/",
        f"/console/galleries/{gallery_id}/photos/{photo['photoId']}/delete/",
        f"/console/galleries/{gallery_id}/photos/{photo['photoId']}/cover/",
    ):
        answer = browser.get(path)
        assert answer.status_code == 200, path
        html = answer.content.decode()
        assert_strict_csp(answer["Content-Security-Policy"])
        page = page_of(html)
        assert page.inline == [] and page.scripts == [] and "<style" not in html and "style=" not in html
        assert [tag for tag, _ in elements(html).tags].count("h1") == 1
        assert all(attrs.get("alt") for attrs in tags_named(html, "img"))


@pytest.mark.parametrize("script_name", ["/prod", ""])
def test_edits_stay_under_the_stage_prefix(aws, curator, curator_key, script_name):
    """Through the WSGI application, as Zappa runs it: every link and form of the edit pages, and the
    redirects after their POSTs, keep the prefix."""
    gallery_id = gallery_create(curator, name="Paris")
    [photo] = photos_upload(curator, gallery_id, 1)
    base = f"http://127.0.0.1{script_name}"
    browser = WsgiClient(get_wsgi_application())
    browser.get("/api/auth/login", base_url=base)
    csrf = browser.get_cookie("csrftoken", domain="127.0.0.1").value
    signed = browser.post(
        "/api/auth/login", data={"key": curator_key, "csrfmiddlewaretoken": csrf}, base_url=base
    )
    assert signed.status_code == 302
    csrf = browser.get_cookie("csrftoken", domain="127.0.0.1").value  # a new one after signing in

    edit = f"/console/galleries/{gallery_id}/edit/"
    photo_path = f"/console/galleries/{gallery_id}/photos/{photo['photoId']}"
    for path in (
        edit,
        f"/console/galleries/{gallery_id}/delete/",
        f"{photo_path}/edit/",
        f"{photo_path}/delete/",
    ):
        html = browser.get(path, base_url=base).get_data(as_text=True)
        for tag, attrs in elements(html).tags:
            for name in ("href", "src", "action"):
                if name in attrs and tag != "img" and attrs[name] != "#main":
                    assert attrs[name].startswith(f"{script_name}/"), (path, attrs[name])
    form = _form_values(browser.get(edit, base_url=base).get_data(as_text=True))
    saved = browser.post(edit, data={**form, "name": "Lyon", "csrfmiddlewaretoken": csrf}, base_url=base)
    assert saved.status_code == 302
    assert saved.headers["Location"] == f"{script_name}/console/galleries/{gallery_id}/?done=gallery-saved"
    deleted = browser.post(f"{photo_path}/delete/", data={"csrfmiddlewaretoken": csrf}, base_url=base)
    assert deleted.headers["Location"] == f"{script_name}/console/galleries/{gallery_id}/?done=photo-deleted"
    assert curator.get(f"/api/galleries/{gallery_id}").json()["name"] == "Lyon"


def test_a_tag_with_a_comma_survives_a_save_that_changed_only_the_title(aws, curator, curator_key):
    gallery_id = gallery_create(curator)
    [photo] = photos_upload(curator, gallery_id, 1)
    photo_path = f"/api/galleries/{gallery_id}/photos/{photo['photoId']}"
    tagged = curator.patch(photo_path, {"tags": ["paris, france", "night"]}, format="json")
    assert tagged.status_code == 200 and tagged.json()["tags"] == ["paris, france", "night"]
    browser = signed_in(curator_key)
    edit_path = f"/console/galleries/{gallery_id}/photos/{photo['photoId']}/edit/"
    values = _form_values(browser.get(edit_path).content.decode())
    assert _post(browser, edit_path, {**values, "title": "Only the title"}).status_code == 302
    assert curator.get(photo_path).json()["tags"] == ["paris, france", "night"]
    values = _form_values(browser.get(edit_path).content.decode())
    assert _post(browser, edit_path, {**values, "tags": "night, rain"}).status_code == 302  # changed: sent
    assert curator.get(photo_path).json()["tags"] == ["night", "rain"]


def test_a_busy_store_is_a_503_page_and_a_delete_out_of_time_can_be_continued(
    aws, curator, curator_key, monkeypatch
):
    """The console answers storage trouble as the API does (503, Retry-After), on its own page; a gallery
    delete that ran out of time says so and its Continue button finishes it."""
    gallery_id = gallery_create(curator)
    photos_upload(curator, gallery_id, 2)
    browser = signed_in(curator_key)
    real_read = console_edits.gallery_selectors.gallery_read

    def throttled(**kwargs):
        raise Unavailable("DynamoDB is throttling requests.")

    monkeypatch.setattr(console_edits.gallery_selectors, "gallery_read", throttled)
    busy = browser.get(f"/console/galleries/{gallery_id}/edit/")
    assert busy.status_code == 503 and busy["Retry-After"] and "throttling" in busy.content.decode()
    monkeypatch.setattr(console_edits.gallery_selectors, "gallery_read", real_read)

    real_delete = console_edits.gallery_delete
    calls = []

    def out_of_time(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise DeadlineReached("The request ran out of time.")
        return real_delete(**kwargs)

    monkeypatch.setattr(console_edits, "gallery_delete", out_of_time)
    delete_path = f"/console/galleries/{gallery_id}/delete/"
    begun = _post(browser, delete_path, {})
    assert begun.status_code == 202 and "Continue deleting" in begun.content.decode()
    assert _post(browser, delete_path, {}).status_code == 302
    assert curator.get(f"/api/galleries/{gallery_id}").status_code == 404


def test_a_new_gallery_is_made_private_from_its_form_and_a_wrong_field_is_said_next_to_it(
    aws, curator, curator_key
):
    browser = signed_in(curator_key)
    listing = browser.get("/console/").content.decode()
    assert {"href": "/console/galleries/new/"} in tags_named(listing, "a")
    form = browser.get("/console/galleries/new/").content.decode()
    values = _form_values(form)
    assert values.pop("next") == "/console/"  # the sign-out form's
    form_id = values.pop("form_id")  # the form's own id: sent twice, it makes one gallery
    assert len(form_id) == 32
    assert values == {"name": "", "country": "", "years": "", "continent": "", "visibility": "private",
                      "locationPrivacy": "hidden"}  # fmt: skip
    assert "version" not in values

    refused = _post(browser, "/console/galleries/new/", {**values, "name": "Lyon", "years": "1700"})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert _alerts(html) and _error_of(html, "continent") and _error_of(html, "years")
    # The first field to correct takes the focus, and the page's title says why it came back.
    assert [attrs["name"] for _, attrs in elements(html).tags if "autofocus" in attrs] == ["continent"]
    assert html[html.index("<title>") + 7 :].startswith("Nothing was saved")
    assert _form_values(html)["name"] == "Lyon"  # what was typed stays
    assert curator.get("/api/galleries").json()["results"] == []

    sent = {**values, "form_id": form_id, "name": "Lyon", "continent": "Europe", "country": "France"}
    sent["years"] = "2018, 2020"
    created = _post(browser, "/console/galleries/new/", sent)
    assert created.status_code == 302
    target = urlsplit(created["Location"])
    gallery_id = target.path.split("/")[3]
    assert target.path == f"/console/galleries/{gallery_id}/"
    assert parse_qs(target.query) == {"done": ["gallery-created"]}
    answer = curator.get(f"/api/galleries/{gallery_id}").json()
    assert (answer["name"], answer["continent"], answer["years"]) == ("Lyon", "Europe", [2018, 2020])
    assert answer["visibility"] == "private" and answer["locationPrivacy"] == "hidden"
    assert APIClient().get(f"/api/galleries/{gallery_id}").status_code == 404
    # The same form sent again (a double click, a reload) lands on the same gallery: no second one.
    again = _post(browser, "/console/galleries/new/", sent)
    assert again.status_code == 302 and again["Location"] == created["Location"]
    anonymous = APIClient().post("/console/galleries/new/", sent)
    assert anonymous.status_code == 302 and urlsplit(anonymous["Location"]).path == "/api/auth/login"
    assert len(curator.get("/api/galleries").json()["results"]) == 1


@pytest.mark.parametrize("script_name", ["/prod", ""])
def test_the_gallery_page_carries_its_uploader_under_the_stage_prefix_and_lets_it_reach_the_bucket(
    aws, curator, curator_key, script_name
):
    """The uploader's script, the client it imports and the API's base are the stage's; the page's policy
    lets it post to the bucket and show renditions before the gallery has its first photo."""
    gallery_id = gallery_create(curator)
    base = f"http://127.0.0.1{script_name}"
    browser = WsgiClient(get_wsgi_application())
    csrf_page = browser.get("/api/auth/login", base_url=base)
    assert csrf_page.status_code == 200
    csrf = browser.get_cookie("csrftoken", domain="127.0.0.1").value
    browser.post("/api/auth/login", data={"key": curator_key, "csrfmiddlewaretoken": csrf}, base_url=base)
    page = browser.get(f"/console/galleries/{gallery_id}/", base_url=base)
    html = page.get_data(as_text=True)
    [uploader] = [attrs for tag, attrs in elements(html).tags if "data-uploader" in attrs]
    assert uploader["data-gallery-id"] == gallery_id and uploader["data-base"] == f"{script_name}/"
    assert uploader["data-client"] == f"{script_name}/static/gallery-client/index.js"
    assert page_of(html).scripts == [f"{script_name}/static/console/upload.js"]
    [picker] = [attrs for attrs in tags_named(html, "input") if attrs.get("type") == "file"]
    assert "multiple" in picker and "image/heic" in picker["accept"] and ".heic" in picker["accept"]
    policy = csp_directives(page.headers["Content-Security-Policy"])
    assert_strict_csp(page.headers["Content-Security-Policy"])
    # What the page will reach, as the API hands it out: an upload slot's form, a photo's renditions.
    files = [{"filename": "big.jpg", "contentType": "image/jpeg"}]
    [slot] = curator.post(f"/api/galleries/{gallery_id}/uploads", {"files": files}, format="json").json()[
        "uploads"
    ]
    assert policy["connect-src"] == ["'self'", "{0.scheme}://{0.netloc}".format(urlsplit(slot["url"]))]
    [photo] = photos_upload(curator, gallery_id, 1)
    assert photo["images"]
    for image in photo["images"]:
        assert "{0.scheme}://{0.netloc}".format(urlsplit(image["url"])) in policy["img-src"]
    # The other console pages post nowhere but here.
    listing = browser.get("/console/", base_url=base)
    assert csp_directives(listing.headers["Content-Security-Policy"])["connect-src"] == ["'self'"]
