"""Photo serializers: the multipart upload's parallel lists, the delete body, and photo output.

Input is bounded before it is worked on: how many titles, descriptions and tag lists there are (no more
than files), how many tags a photo's list holds and how long each tag, title and description is, all
before any of them is cleaned; lists in JSON bodies are counted before their items are validated
(``CountedListField``). A curator's text is stored as text: markup stays as written (the API answers JSON;
a page that shows it escapes it) and control characters are removed (``clean_text``).
"""

import json
import re
from collections.abc import Callable

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from core.storage import key_from_stored_url, readable_url
from core.validation import IdField, TextField, clean_text
from galleries.models import downloads_allowed
from photos import keys
from photos.privacy import exif_for
from ratings import aggregate

MAX_TAGS = 30
MAX_TAG_LENGTH = 50
MAX_TITLE_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 5000
# The entries one photo's tags may be sent as, counted before any is read: room for the blanks and repeats
# that cleaning drops ("a, b, a,"), so 30 tags sent loosely still pass; more is refused unread.
MAX_TAG_ENTRIES = 2 * MAX_TAGS
# One entry's characters before it is cleaned: room for the whitespace that collapses, no more.
_MAX_TAG_ENTRY_CHARS = 4 * MAX_TAG_LENGTH
_TOO_MANY_TAGS = f"At most {MAX_TAGS} tags per photo."
_TAG_TOO_LONG = f"Ensure each tag has no more than {MAX_TAG_LENGTH} characters."

# Control characters: C0 but tab and line feed, DEL, and C1 (0x80-0x9F, where 0x9B is the 8-bit CSI of
# terminal escapes). Carriage returns go too, once CRLF and CR became LF (a browser's textarea sends CRLF).

_WHITESPACE = re.compile(r"\s+")


class CountedListField(serializers.ListField):
    """A list counted before any item is validated: DRF's ``max_length`` is checked only after every item
    was (40,000 items, 40,000 validations, then the refusal). ``most`` is read per request (a setting)."""

    def __init__(self, *, most: Callable[[], int], too_many: str, **kwargs):
        self.most = most
        self.too_many = too_many
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, list | tuple) and len(data) > (limit := self.most()):
            raise serializers.ValidationError(self.too_many.format(limit=limit))
        return super().to_internal_value(data)


class TagsField(serializers.ListField):
    """A photo's tags as a JSON list of text, read by ``clean_tags`` (which counts them first) instead of
    a validation per item."""

    child = serializers.CharField(max_length=MAX_TAG_LENGTH)

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return clean_tags(data)


_TITLE = TextField(one_line=True, max_length=MAX_TITLE_LENGTH, allow_blank=True)
_DESCRIPTION = TextField(one_line=False, max_length=MAX_DESCRIPTION_LENGTH, allow_blank=True)


def _field_values(data, name: str) -> list:
    if hasattr(data, "getlist"):
        return data.getlist(name)
    value = data.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _json_list(text):
    """The parsed value when ``text`` is a JSON array, else None (a title may start with '[')."""
    if not isinstance(text, str) or not text.lstrip().startswith("["):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # "[[[[..." nested past the interpreter's limit is no list of ours
        return None
    return value if isinstance(value, list) else None


def _counted(name: str, values: list, photo_count: int) -> list:
    """``values``, refused when there are more than photos (before any of them is read)."""
    if len(values) > photo_count:
        raise serializers.ValidationError({name: [f"{len(values)} given for {photo_count} photos."]})
    return values


def _text_list(data, name: str, field: TextField, photo_count: int) -> list[str]:
    """``titles``/``descriptions``: repeated fields, or one field holding a JSON array."""
    values = _field_values(data, name)
    if len(values) == 1 and (parsed := _json_list(values[0])) is not None:
        values = parsed
    _counted(name, values, photo_count)
    try:
        return [field.run_validation("" if value is None else value) for value in values]
    except serializers.ValidationError as error:
        raise serializers.ValidationError({name: error.detail}) from None


def _tag_lists(data, photo_count: int) -> list[list[str]]:
    """``tags``: one JSON array of arrays, or repeated fields each a JSON array or 'a, b, c'."""
    values = _counted("tags", _field_values(data, "tags"), photo_count)
    if len(values) == 1 and (parsed := _json_list(values[0])) is not None:
        if len(parsed) > max(photo_count, MAX_TAG_ENTRIES):  # too many either way, refused unread
            arrays = isinstance(parsed[0], list)
            message = f"{len(parsed)} given for {photo_count} photos." if arrays else _TOO_MANY_TAGS
            raise serializers.ValidationError({"tags": [message]})
        if all(isinstance(item, list) for item in parsed):
            values = _counted("tags", parsed, photo_count)
        elif photo_count == 1:
            values = [parsed]
        else:
            raise serializers.ValidationError({"tags": ["With several photos, send an array of arrays."]})
    lists = []
    try:
        for value in values:
            if isinstance(value, str):
                if (parsed := _json_list(value)) is not None:
                    value = parsed
                elif value.count(",") >= MAX_TAG_ENTRIES:  # counted before it is split
                    raise serializers.ValidationError([_TOO_MANY_TAGS])
                else:
                    value = value.split(",")
            if not isinstance(value, list):
                raise serializers.ValidationError(["Each photo's tags must be a list."])
            lists.append(clean_tags(value))
    except serializers.ValidationError as error:
        raise serializers.ValidationError({"tags": error.detail}) from None
    return lists


def clean_tags(values: list) -> list[str]:
    """One photo's tags: how many and how long checked before any is cleaned, then each cleaned (controls
    removed, spaces collapsed, lower case) and kept once, in order. Work is bounded by MAX_TAG_ENTRIES
    entries of _MAX_TAG_ENTRY_CHARS, whatever is sent."""
    if len(values) > MAX_TAG_ENTRIES:
        raise serializers.ValidationError([_TOO_MANY_TAGS])
    tags: dict[str, None] = {}  # insertion-ordered: de-duplication in constant time per tag
    for value in values:
        if not isinstance(value, str):
            raise serializers.ValidationError(["Tags must be text."])
        if len(value) > _MAX_TAG_ENTRY_CHARS or len(tag := _clean_tag(value)) > MAX_TAG_LENGTH:
            raise serializers.ValidationError([_TAG_TOO_LONG])
        if tag:
            tags[tag] = None
    if len(tags) > MAX_TAGS:
        raise serializers.ValidationError([_TOO_MANY_TAGS])
    return list(tags)


def _clean_tag(value: str) -> str:
    return _WHITESPACE.sub(" ", clean_text(value, one_line=True)).strip().lower()


def parse_upload(data, files) -> list[dict]:
    """The i-th title, description and tag list go with the i-th file; missing ones default."""
    uploads = files.getlist("photos") if hasattr(files, "getlist") else list(files.get("photos", []))
    if not uploads:
        raise serializers.ValidationError({"photos": ["Send one or more files in the 'photos' field."]})
    if len(uploads) > settings.PHOTO_MAX_FILES_PER_UPLOAD:
        limit = settings.PHOTO_MAX_FILES_PER_UPLOAD
        raise serializers.ValidationError({"photos": [f"At most {limit} files per upload."]})
    titles = _text_list(data, "titles", _TITLE, len(uploads))
    descriptions = _text_list(data, "descriptions", _DESCRIPTION, len(uploads))
    tags = _tag_lists(data, len(uploads))
    return [
        {
            "file": upload,
            # Photographers' file names are meaningful; they are the title until one is given (an empty
            # title field, as an HTML form sends, counts as none given).
            "title": (titles[index] if index < len(titles) else "") or _default_title(upload.name),
            "description": descriptions[index] if index < len(descriptions) else "",
            "tags": tuple(tags[index]) if index < len(tags) else (),
        }
        for index, upload in enumerate(uploads)
    ]


def _default_title(filename: str | None) -> str:
    stem = (filename or "").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return clean_text(stem[:MAX_TITLE_LENGTH], one_line=True).strip()


# The formats photos.imaging accepts, by content type (kept here so this module does not import Pillow;
# a test checks the two agree).
ACCEPTED_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/tiff")


class UploadSlotRequestSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=255, required=False, allow_blank=True)
    contentType = serializers.ChoiceField(choices=ACCEPTED_CONTENT_TYPES)


def _files_per_upload() -> int:
    return settings.PHOTO_MAX_FILES_PER_UPLOAD


class UploadSlotsInputSerializer(serializers.Serializer):
    files = CountedListField(
        child=UploadSlotRequestSerializer(),
        min_length=1,
        most=_files_per_upload,
        too_many="At most {limit} files at once.",
    )


class PhotoUploadFormSerializer(serializers.Serializer):
    """The upload's fields as a form: the browsable API draws it for curators (one photo per submit) and
    OPTIONS describes it. Requests themselves are read by ``parse_upload``, which also takes many files."""

    photos = serializers.FileField(help_text="A JPEG, PNG, WebP or TIFF photo.")
    titles = serializers.CharField(
        required=False, max_length=MAX_TITLE_LENGTH, help_text="Defaults to the file name."
    )
    descriptions = serializers.CharField(
        required=False, max_length=MAX_DESCRIPTION_LENGTH, style={"base_template": "textarea.html"}
    )
    tags = serializers.CharField(required=False, help_text="Comma-separated, e.g. 'night, paris'.")


class FromUploadSerializer(serializers.Serializer):
    uploadKey = serializers.CharField(max_length=300)
    filename = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    title = TextField(one_line=True, max_length=MAX_TITLE_LENGTH, required=False, allow_blank=True)
    description = TextField(
        one_line=False, max_length=MAX_DESCRIPTION_LENGTH, required=False, allow_blank=True, default=""
    )
    tags = TagsField(required=False, default=list)

    def validate_uploadKey(self, key):
        if not keys.is_upload_key_of(key, self.context["gallery_id"]):
            raise serializers.ValidationError("Not an upload key this gallery handed out.")
        return key

    def validate(self, data):
        data.setdefault("title", _default_title(data["filename"]))
        return data


class FromUploadsInputSerializer(serializers.Serializer):
    uploads = CountedListField(
        child=FromUploadSerializer(),
        min_length=1,
        most=_files_per_upload,
        too_many="At most {limit} photos at once.",
    )
    keepDuplicate = serializers.BooleanField(required=False, default=False)

    def validate_uploads(self, uploads):
        if len({upload["uploadKey"] for upload in uploads}) != len(uploads):
            raise serializers.ValidationError("Each upload key may appear once.")
        return uploads


class PhotoDeleteSerializer(serializers.Serializer):
    photoId = IdField(required=False)
    photoNumber = serializers.IntegerField(required=False, min_value=1)
    s3Key = serializers.CharField(required=False, max_length=1024)


class PhotoListQuerySerializer(serializers.Serializer):
    tag = serializers.CharField(required=False, max_length=50)


class PhotoOutputSerializer(serializers.Serializer):
    galleryId = serializers.CharField(source="gallery_id")
    photoId = serializers.CharField(source="photo_id")
    photoNumber = serializers.IntegerField(source="photo_number")
    title = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    s3Key = serializers.CharField(source="s3_key")
    thumbnailURL = serializers.SerializerMethodField()
    fullSizeURL = serializers.SerializerMethodField()
    originalURL = serializers.SerializerMethodField()
    renditions = serializers.SerializerMethodField()
    exifData = serializers.SerializerMethodField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    uploadedAt = serializers.CharField(source="uploaded_at")
    averageRating = serializers.SerializerMethodField()
    ratingCount = serializers.IntegerField(source="rating_count")
    ratingHistogram = serializers.SerializerMethodField()

    def get_thumbnailURL(self, photo) -> str | None:
        key = keys.rendition_of(photo.rendition_keys, "thumb", "jpg")
        return readable_url(key or key_from_stored_url(photo.thumbnail_url), photo.thumbnail_url)

    def get_fullSizeURL(self, photo) -> str | None:
        key = keys.rendition_of(photo.rendition_keys, "web", "jpg")
        return readable_url(key or key_from_stored_url(photo.full_size_url), photo.full_size_url)

    def get_originalURL(self, photo) -> str | None:
        # The original keeps all its EXIF (exact GPS, serial numbers): a signed URL for curators; for
        # visitors, when the gallery allows downloads, the download route (it hands out a short-lived
        # signed URL of a copy without the location: photos.services.originals); else null.
        if self._curator():
            return readable_url(photo.s3_key, photo.original_url)
        gallery = self.context.get("gallery")
        request = self.context.get("request")
        if gallery is None or request is None or not downloads_allowed(gallery):
            return None
        path = reverse(
            "gallery-photo-original", kwargs={"gallery_pk": photo.gallery_id, "pk": photo.photo_id}
        )
        return request.build_absolute_uri(path)

    def _curator(self) -> bool:
        request = self.context.get("request")
        return bool(getattr(getattr(request, "user", None), "is_curator", False))

    def get_renditions(self, photo) -> dict:
        renditions: dict = {}
        for key in photo.rendition_keys or []:
            match = re.search(r"-(?P<name>[a-z0-9]+)\.(?P<ext>[a-z0-9]+)$", key)
            if match:
                renditions.setdefault(match["name"], {})[match["ext"]] = readable_url(key, None)
        return renditions

    def get_exifData(self, photo) -> dict:
        # The viewer and the gallery's location rule come in the context (photos.privacy); without them,
        # the most private answer.
        return exif_for(
            photo.exif(),
            curator=self._curator(),
            location_privacy=self.context.get("location_privacy", "hidden"),
        )

    def get_averageRating(self, photo) -> float | None:
        return aggregate.average(photo)

    def get_ratingHistogram(self, photo) -> dict:
        return aggregate.histogram(photo)


class KeepDuplicateSerializer(serializers.Serializer):
    """An upload's ``keepDuplicate`` form field: store a file even when the gallery has its bytes."""

    keepDuplicate = serializers.BooleanField(required=False, default=False)
