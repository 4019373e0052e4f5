"""The console's edit forms: what a page's fields hold, and a posted form read as the API's body.

No rule is written here: a posted form becomes the JSON body the API would get (years and tags split
at commas, the checkbox a boolean) and is checked by the API's own input serializer; its errors are put
back next to the fields they are about. A field is a plain dict the template ``console/field.html`` lays
out (label, control, error tied to it by ``aria-describedby``).
"""

from django.http import QueryDict

from core.validation import CONTINENTS
from galleries.models import LOCATION_PRIVACY, LOCATION_PRIVACY_DEFAULT, VISIBILITY

# The choices' labels, in the order of the rules' own lists (a test checks they cover them).
VISIBILITY_LABELS = {
    "public": "Public: listed, anyone may open it",
    "unlisted": "Unlisted: anyone with its link, never listed",
    "private": "Private: curators only",
}
LOCATION_PRIVACY_LABELS = {
    "hidden": "Hidden: visitors see no location",
    "approximate": "Approximate: about a kilometre",
    "exact": "Exact",
}


def comma_list(text: str) -> list[str]:
    """'2019, 2021,' as the list the API takes: pieces at commas, blanks dropped (the API checks each)."""
    return [piece.strip() for piece in text.split(",") if piece.strip()]


def field(
    name: str,
    label: str,
    value,
    *,
    kind: str = "text",
    choices=(),
    help: str = "",
    errors=None,
    required: bool = False,
) -> dict:
    """One field of a form: ``kind`` is text, textarea, select or checkbox; ``choices`` (value, label);
    ``required`` marks what the API refuses blank (the browser says so before sending)."""
    element_id = f"field-{name}"
    messages = messages_of((errors or {}).get(name))
    # What a screen reader reads after the label: the error first, then the hint.
    described_by = [f"{element_id}-error"] if messages else []
    described_by += [f"{element_id}-help"] if help else []
    return {
        "name": name,
        "id": element_id,
        "label": label,
        "value": value,
        "kind": kind,
        "choices": list(choices),
        "help": help,
        "errors": messages,
        "described_by": " ".join(described_by),
        "required": required,
    }


def messages_of(error) -> list[str]:
    """A DRF error of one field as sentences: a list field's errors come by item index (``{1: [...]}``),
    said once each."""
    if error is None:
        return []
    if isinstance(error, dict):
        return list(dict.fromkeys(message for item in error.values() for message in messages_of(item)))
    if isinstance(error, list | tuple):
        return list(dict.fromkeys(message for item in error for message in messages_of(item)))
    return [str(error)]


# A gallery's form: the API's field names (GalleryUpdateSerializer), so its errors land on them.
def gallery_body(post: QueryDict) -> dict:
    """A posted gallery form as the JSON body of the API's edit."""
    return {
        "name": post.get("name", ""),
        "continent": post.get("continent", ""),
        "country": post.get("country", ""),
        "description": post.get("description", ""),
        "years": comma_list(post.get("years", "")),
        "visibility": post.get("visibility", ""),
        "locationPrivacy": post.get("locationPrivacy", ""),
        "allowOriginalDownload": post.get("allowOriginalDownload") == "on",
    }


def first_invalid_focused(fields: list[dict]) -> list[dict]:
    """The first field with an error takes the focus when the page opens (``autofocus``): a keyboard or
    screen-reader user lands on what to correct, its error read with it."""
    for each in fields:
        if each["errors"]:
            each["autofocus"] = True
            break
    return fields


def gallery_fields(values: dict, errors: dict | None = None) -> list[dict]:
    """The gallery form's fields holding ``values`` (the API's answer, or what was posted); a form with
    no continent yet (a new gallery) starts on an empty choice rather than on the first continent."""
    years = values.get("years") or []
    continents = [(name, name) for name in CONTINENTS]
    if not values.get("continent"):
        continents.insert(0, ("", "Choose a continent"))
    return first_invalid_focused(
        [
            field("name", "Name", values.get("name", ""), errors=errors, required=True),
            field(
                "continent",
                "Continent",
                values.get("continent", ""),
                kind="select",
                choices=continents,
                errors=errors,
            ),
            field("country", "Country", values.get("country", ""), errors=errors, required=True),
            field(
                "description", "Description", values.get("description", ""), kind="textarea", errors=errors
            ),
            field(
                "years",
                "Years",
                years if isinstance(years, str) else ", ".join(str(year) for year in years),
                help="Separated by commas, e.g. 2019, 2021. A year taken out stays out, even when a photo's "
                "date has it.",
                errors=errors,
            ),
            field(
                "visibility",
                "Visibility",
                values.get("visibility", ""),
                kind="select",
                choices=[(value, VISIBILITY_LABELS[value]) for value in VISIBILITY],
                errors=errors,
            ),
            field(
                "locationPrivacy",
                "Location shown to visitors",
                values.get("locationPrivacy", ""),
                kind="select",
                choices=[(value, LOCATION_PRIVACY_LABELS[value]) for value in LOCATION_PRIVACY],
                errors=errors,
            ),
            field(
                "allowOriginalDownload",
                "Visitors may download originals",
                bool(values.get("allowOriginalDownload")),
                kind="checkbox",
                errors=errors,
            ),
        ]
    )


def gallery_new() -> dict:
    """A new gallery's form: private until the curator publishes it (the console creates as the JS client
    does, whatever the guide's routes default to), and no visitor sees a location."""
    return {"visibility": "private", "locationPrivacy": LOCATION_PRIVACY_DEFAULT}


def gallery_posted(post: QueryDict) -> dict:
    """What was posted, as the form shows it again (years as typed)."""
    return {**gallery_body(post), "years": post.get("years", "")}


# A photo's form: the API's field names (PhotoEditSerializer).
def photo_body(post: QueryDict) -> dict:
    """A posted photo form as the JSON body of the API's edit. The tags are sent only when their text
    changed from what the form showed (``tags_shown``): a tag the API took with a comma in it ("paris,
    france") would otherwise be split in two by a save that only changed the title."""
    body: dict[str, str | list[str]] = {
        "title": post.get("title", ""),
        "description": post.get("description", ""),
        "altText": post.get("altText", ""),
    }
    if post.get("tags", "") != post.get("tags_shown"):
        body["tags"] = comma_list(post.get("tags", ""))
    return body


def photo_fields(values: dict, errors: dict | None = None) -> list[dict]:
    tags = values.get("tags") or []
    return first_invalid_focused(
        [
            field("title", "Title", values.get("title", ""), errors=errors),
            field(
                "description", "Description", values.get("description", ""), kind="textarea", errors=errors
            ),
            field(
                "tags",
                "Tags",
                tags_text(tags),
                help="Separated by commas; stored in lower case, each once.",
                errors=errors,
            ),
            field(
                "altText",
                "Alt text",
                values.get("altText", ""),
                help="What a screen reader says in place of the photo.",
                errors=errors,
            ),
        ]
    )


def photo_posted(post: QueryDict) -> dict:
    return {**photo_body(post), "tags": post.get("tags", "")}


def tags_text(tags) -> str:
    """The tags as the form shows them (and, in ``tags_shown``, as it showed them)."""
    return tags if isinstance(tags, str) else ", ".join(tags or [])
