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
from django.core.validators import RegexValidator
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.schema import page_of
from core.storage import key_from_stored_url, readable_url
from core.validation import ID_PATTERN, IdField, TextField, clean_text
from galleries.models import downloads_allowed
from photos import keys, renditions
from photos.geometry import RENDITION_FORMATS
from photos.ordering import ORDERINGS, PHOTO_NUMBER
from photos.prepare import CONTENT_TYPE_FORMATS, MAX_TITLE_LENGTH, name_and_type_agree, title_from_filename
from photos.privacy import exif_for
from ratings import aggregate
from ratings.serializers import AVERAGE_HELP, COUNT_HELP, RatingCountField, RatingHistogramSerializer

MAX_TAGS = 30
MAX_TAG_LENGTH = 50
MAX_DESCRIPTION_LENGTH = 5000
# Alt text is a sentence or two (screen readers read it whole); longer belongs in the description.
MAX_ALT_TEXT_LENGTH = 1000
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

    child = serializers.CharField(max_length=MAX_TAG_LENGTH, allow_blank=True)  # blank ones are dropped

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return clean_tags(data)


_TITLE = TextField(one_line=True, max_length=MAX_TITLE_LENGTH, allow_blank=True)
_DESCRIPTION = TextField(one_line=False, max_length=MAX_DESCRIPTION_LENGTH, allow_blank=True)
_ALT_TEXT = TextField(one_line=True, max_length=MAX_ALT_TEXT_LENGTH, allow_blank=True)


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
    alt_texts = _text_list(data, "altTexts", _ALT_TEXT, len(uploads))
    tags = _tag_lists(data, len(uploads))
    return [
        {
            "file": upload,
            # The file name is the title until one is given (an empty title field, as an HTML form
            # sends, counts as none given).
            "title": (titles[index] if index < len(titles) else "") or title_from_filename(upload.name),
            "description": descriptions[index] if index < len(descriptions) else "",
            "alt_text": alt_texts[index] if index < len(alt_texts) else "",
            "tags": tuple(tags[index]) if index < len(tags) else (),
        }
        for index, upload in enumerate(uploads)
    ]


# The formats photos.imaging accepts, by content type (kept here so this module does not import Pillow;
# a test checks the two agree).
ACCEPTED_CONTENT_TYPES = tuple(CONTENT_TYPE_FORMATS)


@extend_schema_field({"type": "string", "maxLength": 255, "pattern": r"^[^\x00]*$"})
class FilenameField(serializers.CharField):
    """A file's name as a browser sends it: any text of up to 255 characters but NUL (refused, as DRF
    refuses it in every text), blank allowed."""

    def __init__(self, **kwargs):
        super().__init__(max_length=255, required=False, allow_blank=True, **kwargs)


class UploadMetadataSerializer(serializers.Serializer):
    """A directly uploaded photo's metadata, as a slot's request and a completion send it, checked and
    cleaned alike. A field not sent stays out of the data (no defaults here): a completion's fields win
    over the slot's one by one (``photos.services.direct_upload``), so "not sent" and "sent empty"
    differ."""

    filename = FilenameField(
        help_text="The file's name: the title when none is given; its extension must match the content."
    )
    title = TextField(
        one_line=True,
        max_length=MAX_TITLE_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Defaults to the file name without its extension.",
    )
    description = TextField(
        one_line=False, max_length=MAX_DESCRIPTION_LENGTH, required=False, allow_blank=True
    )
    altText = TextField(
        one_line=True,
        max_length=MAX_ALT_TEXT_LENGTH,
        required=False,
        allow_blank=True,
        help_text="What a screen reader says in place of the photo (one line).",
    )
    tags = TagsField(
        required=False,
        help_text=f"At most {MAX_TAGS} tags; each is stored in lower case, spaces collapsed, once.",
    )


class UploadSlotRequestSerializer(UploadMetadataSerializer):
    """One file to upload: its type, and optionally the photo's metadata, kept for the photo that S3's
    event makes once the file is in (a completion may still send it, or change it)."""

    contentType = serializers.ChoiceField(
        choices=ACCEPTED_CONTENT_TYPES, help_text="The file's type: the form lets S3 take only this one."
    )

    class Meta:
        ref_name = "UploadSlotFile"

    def validate(self, attrs):
        # The photo is made from the slot as soon as the file is in: a name that promises another format
        # than the type would be refused then, for good (refused before the form is handed out instead).
        filename, content_type = attrs.get("filename", ""), attrs.get("contentType", "")
        if not name_and_type_agree(filename, content_type):
            raise serializers.ValidationError(
                {"filename": f"The name {filename!r} promises another format than {content_type}."}
            )
        return super().validate(attrs)


KEEP_DUPLICATE_HELP = (
    "Store a file even when a photo of the gallery has the same bytes; by default such a file is "
    "answered by that photo (`duplicateOf`) and not stored again."
)


def _files_per_upload() -> int:
    return settings.PHOTO_MAX_FILES_PER_UPLOAD


class UploadSlotsInputSerializer(serializers.Serializer):
    files = CountedListField(
        child=UploadSlotRequestSerializer(),
        min_length=1,
        most=_files_per_upload,
        too_many="At most {limit} files at once.",
        help_text="One entry per file to upload (at most PHOTO_MAX_FILES_PER_UPLOAD, 50 by default).",
    )
    keepDuplicate = serializers.BooleanField(
        required=False,
        default=False,
        help_text=KEEP_DUPLICATE_HELP + " For the photos S3's events make; a completion sends its own.",
    )

    class Meta:
        ref_name = "UploadSlots"


class UploadSlotSerializer(serializers.Serializer):
    """A presigned S3 POST form for one file: post `fields` and then the file (named `file`) to `url`."""

    uploadKey = serializers.CharField(
        help_text="The object key the form uploads to; name it in `/photos/from-uploads` afterwards."
    )
    url = serializers.URLField(help_text="Where to POST the form (multipart/form-data), straight to S3.")
    # DRF's metaclass takes declared fields out of the class, so this one does not hide Serializer.fields.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.CharField(),
        help_text=(
            "The form fields to send as they are (`key`, `Content-Type`, `policy`, the signature...), "
            "followed by the file as the last field, named `file`."
        ),
    )
    expiresAt = serializers.DateTimeField(help_text="When the form stops working (UTC, 15 minutes on).")
    maxBytes = serializers.IntegerField(help_text="The largest file S3 takes through this form.")

    class Meta:
        ref_name = "UploadSlot"


class UploadSlotsOutputSerializer(serializers.Serializer):
    uploads = UploadSlotSerializer(many=True, help_text="One slot per file asked for, in the same order.")

    class Meta:
        ref_name = "UploadSlotList"


class PhotoUploadFormSerializer(serializers.Serializer):
    """The upload's fields as a form: the browsable API draws it for curators (one photo per submit) and
    OPTIONS describes it. Requests themselves are read by ``parse_upload``, which also takes many files."""

    photos = serializers.FileField(help_text="A JPEG, PNG, WebP, TIFF, HEIC/HEIF or AVIF photo.")
    titles = serializers.CharField(
        required=False, max_length=MAX_TITLE_LENGTH, help_text="Defaults to the file name."
    )
    descriptions = serializers.CharField(
        required=False, max_length=MAX_DESCRIPTION_LENGTH, style={"base_template": "textarea.html"}
    )
    tags = serializers.CharField(required=False, help_text="Comma-separated, e.g. 'night, paris'.")
    altTexts = serializers.CharField(
        required=False, max_length=MAX_ALT_TEXT_LENGTH, help_text="What a screen reader says instead."
    )


class PhotoUploadSerializer(serializers.Serializer):
    """Photos to upload, as multipart/form-data parts: the i-th `titles`, `descriptions` and `tags` part
    goes with the i-th `photos` file; missing ones take their defaults."""

    # The schema's view of what parse_upload reads (PhotoUploadFormSerializer draws the browsable API's
    # one-file form).

    photos = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        help_text=(
            "The files, one `photos` part each (at most PHOTO_MAX_FILES_PER_UPLOAD, 50 by default): JPEG, "
            "PNG, WebP, TIFF, HEIC/HEIF or AVIF, each at most PHOTO_MAX_BYTES (40 MB by default)."
        ),
    )
    titles = serializers.ListField(
        child=serializers.CharField(max_length=MAX_TITLE_LENGTH, allow_blank=True),
        required=False,
        help_text=(
            "The i-th file's title, one `titles` part each (or one part holding a JSON array); no more than "
            "files. A missing or empty title is the file name without its extension."
        ),
    )
    descriptions = serializers.ListField(
        child=serializers.CharField(max_length=MAX_DESCRIPTION_LENGTH, allow_blank=True),
        required=False,
        help_text="The i-th file's description, like `titles`; missing ones are empty.",
    )
    altTexts = serializers.ListField(
        child=serializers.CharField(max_length=MAX_ALT_TEXT_LENGTH, allow_blank=True),
        required=False,
        help_text="The i-th file's alt text (one line, what a screen reader says), like `titles`.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=(
            'The i-th file\'s tags, one `tags` part each: a JSON array (`["night", "paris"]`) or '
            "'night, paris'; or one part holding a JSON array of arrays, one per file (one file: a plain "
            f"array). At most {MAX_TAGS} tags a photo, {MAX_TAG_LENGTH} characters each; stored in lower "
            "case, spaces collapsed, once."
        ),
    )
    keepDuplicate = serializers.BooleanField(required=False, default=False, help_text=KEEP_DUPLICATE_HELP)

    class Meta:
        ref_name = "PhotoUpload"


_NOT_AN_UPLOAD_KEY = "Not an upload key this gallery handed out."


class FromUploadSerializer(UploadMetadataSerializer):
    """One upload to make a photo of; the metadata sent here wins over the slot's, field by field."""

    uploadKey = serializers.CharField(
        max_length=300,
        # The shape of every key upload_slots_create hands out (the schema shows it); validate_uploadKey
        # checks the gallery, with the same message.
        validators=[RegexValidator(rf"^uploads/{ID_PATTERN}/[0-9a-f]{{32}}\Z", _NOT_AN_UPLOAD_KEY)],
        help_text="An `uploadKey` a slot of this gallery gave, its file posted to S3.",
    )

    class Meta:
        ref_name = "CompletedUpload"

    def validate_uploadKey(self, key):
        if not keys.is_upload_key_of(key, self.context["gallery_id"]):
            raise serializers.ValidationError(_NOT_AN_UPLOAD_KEY)
        return key


class FromUploadsInputSerializer(serializers.Serializer):
    uploads = CountedListField(
        child=FromUploadSerializer(),
        min_length=1,
        most=_files_per_upload,
        too_many="At most {limit} photos at once.",
    )
    keepDuplicate = serializers.BooleanField(required=False, default=False, help_text=KEEP_DUPLICATE_HELP)

    class Meta:
        ref_name = "PhotosFromUploads"

    def validate_uploads(self, uploads):
        if len({upload["uploadKey"] for upload in uploads}) != len(uploads):
            raise serializers.ValidationError("Each upload key may appear once.")
        return uploads


class PhotoDeleteSerializer(serializers.Serializer):
    photoId = IdField(required=False)
    photoNumber = serializers.IntegerField(required=False, min_value=1)
    s3Key = serializers.CharField(required=False, max_length=1024)


class PhotoOrderingQuerySerializer(serializers.Serializer):
    ordering = serializers.ChoiceField(
        choices=ORDERINGS,
        default=PHOTO_NUMBER,
        help_text=(
            "The order: `photoNumber` (the default), `-averageRating` (top rated first, equals by number), "
            "`takenAt` and `-takenAt` (by the date taken, oldest or newest first; photos whose date is "
            "unknown come after the dated ones either way, by number), `-uploadedAt` (newest first)."
        ),
        error_messages={
            "invalid_choice": f"{{input!r}} is not an ordering; use one of: {', '.join(ORDERINGS)}."
        },
    )


class TagQueryField(serializers.CharField):
    """A tag to look for, cleaned as stored tags are (``clean_tags``' rule: lower case, spaces collapsed,
    controls removed), so a search finds what an upload stored."""

    def __init__(self, **kwargs):
        super().__init__(max_length=MAX_TAG_LENGTH, **kwargs)

    def to_internal_value(self, data):
        tag = _clean_tag(super().to_internal_value(data))
        if not tag and self.required:
            self.fail("blank")
        return tag or None

    def run_validators(self, value):
        # A tag of controls only cleans to nothing (None: no filter); the length check is for text.
        if value is not None:
            super().run_validators(value)


class PhotoListQuerySerializer(PhotoOrderingQuerySerializer):
    tag = TagQueryField(required=False, help_text="Only photos with this tag (compared in lower case).")


class PhotoSearchQuerySerializer(serializers.Serializer):
    tag = TagQueryField(help_text="The tag to find (compared in lower case). Required.")


class ExifLocationSerializer(serializers.Serializer):
    """Where the photo was taken, as the gallery's `locationPrivacy` lets visitors see it: absent when
    `hidden`; latitude and longitude rounded to 2 decimals, without altitude, when `approximate`; as
    recorded when `exact`, and always for curators. Each part is there only when the file recorded it."""

    latitude = serializers.FloatField(required=False, help_text="Degrees, north positive.")
    longitude = serializers.FloatField(required=False, help_text="Degrees, east positive.")
    altitude = serializers.FloatField(required=False, help_text="Metres above sea level (negative below).")

    class Meta:
        ref_name = "ExifLocation"


class ExifSerializer(serializers.Serializer):
    """What the photo's file told about it, each field only when the file recorded it. Visitors see these
    fields, and the location as the gallery allows; curators see everything stored (photos from other
    sources may hold more fields)."""

    make = serializers.CharField(required=False, help_text="The camera's maker.")
    model = serializers.CharField(required=False, help_text="The camera's model.")
    lensModel = serializers.CharField(required=False)
    exposureTime = serializers.CharField(required=False, help_text="Seconds: '1/250' or '0.6'.")
    fNumber = serializers.FloatField(required=False)
    iso = serializers.IntegerField(required=False)
    focalLength = serializers.FloatField(required=False, help_text="Millimetres.")
    focalLength35mm = serializers.IntegerField(required=False, help_text="Millimetres, 35 mm equivalent.")
    dateTimeOriginal = serializers.CharField(
        required=False, help_text="When it was taken, as the camera's clock said (ISO 8601, no time zone)."
    )
    orientation = serializers.IntegerField(
        required=False, min_value=1, max_value=8, help_text="The EXIF orientation (1 is upright)."
    )
    width = serializers.IntegerField(required=False, help_text="Pixels, as displayed (orientation applied).")
    height = serializers.IntegerField(required=False, help_text="Pixels, as displayed (orientation applied).")
    gps = ExifLocationSerializer(required=False)

    class Meta:
        ref_name = "Exif"


# A rendition's URLs by format, by rendition name: {"400": {"jpg": url, "webp": url}, "800": {...}, ...}.
_RENDITIONS = serializers.DictField(
    child=serializers.DictField(child=serializers.URLField()),
    help_text=(
        "The photo's renditions by name (the long edge in pixels: `400`, `800`, `1600`, `2560`, and the "
        "photo's own when it is smaller than 2560), each a URL by file extension (`jpg`, `webp`; `avif` "
        "where enabled). `thumb` and `web` name the renditions of `thumbnailURL` and `fullSizeURL`, as "
        "before the larger sizes existed. Prefer `images` and `srcset`."
    ),
)


class RenditionImageSerializer(serializers.Serializer):
    """One rendition file: what an `<img>` or `<source>` needs to choose it."""

    width = serializers.IntegerField(help_text="Pixels, as displayed.")
    height = serializers.IntegerField(help_text="Pixels, as displayed.")
    format = serializers.ChoiceField(choices=list(RENDITION_FORMATS))
    bytes = serializers.IntegerField(
        allow_null=True,
        help_text="The file's size; null for photos made "
        "before sizes were recorded (until the photos scan re-renders them).",
    )
    url = serializers.URLField(
        help_text="Public (cached for a year: its content never changes under it), or signed and stable "
        "for at least half of MEDIA_SIGNED_URL_SECONDS."
    )

    class Meta:
        ref_name = "RenditionImage"


class SrcsetSerializer(serializers.Serializer):
    """Ready `srcset` attributes by format: `"<url> 400w, <url> 800w, ..."` (widths in pixels)."""

    jpeg = serializers.CharField(help_text="For `<img srcset>`: every browser shows JPEG.")
    webp = serializers.CharField(help_text='For `<source type="image/webp" srcset>`.')
    avif = serializers.CharField(required=False, help_text='For `<source type="image/avif">`, where enabled.')

    class Meta:
        ref_name = "Srcset"


class PhotoOutputSerializer(serializers.Serializer):
    """A photo, as its read, its gallery's list and an upload answer it. Visitors see part of `exifData`
    (no serial numbers, the location only as the gallery allows); curators see all of it."""

    galleryId = serializers.CharField(source="gallery_id")
    photoId = serializers.CharField(source="photo_id")
    photoNumber = serializers.IntegerField(
        source="photo_number",
        help_text="Its place in the gallery (1, 2, ...; numbers of deleted photos stay unused).",
    )
    title = serializers.CharField()
    description = serializers.CharField()
    altText = serializers.CharField(
        source="alt_text", help_text="What a screen reader says in place of the photo; empty when none given."
    )
    tags = serializers.ListField(child=serializers.CharField(), help_text="Lower case, each once.")
    s3Key = serializers.CharField(source="s3_key", help_text="The original's object key in the bucket.")
    thumbnailURL = serializers.SerializerMethodField(
        help_text="The small rendition (public, or signed and short-lived); null while there is none."
    )
    fullSizeURL = serializers.SerializerMethodField(
        help_text="The web rendition (public, or signed and short-lived); null while there is none."
    )
    originalURL = serializers.SerializerMethodField(
        help_text=(
            "The original: for curators a short-lived signed URL; for visitors, when the gallery allows "
            "downloads, this photo's `/original` route (a redirect to a copy without the location); "
            "otherwise null."
        )
    )
    renditions = serializers.SerializerMethodField()
    images = serializers.SerializerMethodField(
        help_text="Every rendition file, smallest first, then by format (jpeg, webp, avif)."
    )
    srcset = serializers.SerializerMethodField()
    thumbhash = serializers.CharField(
        allow_null=True,
        help_text="A ThumbHash placeholder (base64; decode with the `thumbhash` package) to paint while the "
        "image loads; null until the photos scan re-renders a photo made before placeholders.",
    )
    dominantColor = serializers.CharField(
        source="dominant_color",
        allow_null=True,
        help_text="The photo's dominant colour, `#rrggbb`, for a background while it loads; null like "
        "`thumbhash`.",
    )
    exifData = serializers.SerializerMethodField()
    width = serializers.IntegerField(allow_null=True, help_text="Pixels as displayed; null when unknown.")
    height = serializers.IntegerField(allow_null=True, help_text="Pixels as displayed; null when unknown.")
    uploadedAt = serializers.CharField(source="uploaded_at", help_text="When it was stored (ISO 8601, UTC).")
    averageRating = serializers.SerializerMethodField(help_text=AVERAGE_HELP)
    ratingCount = RatingCountField(source="rating_count", help_text=COUNT_HELP)
    ratingHistogram = serializers.SerializerMethodField()

    class Meta:
        ref_name = "Photo"

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_thumbnailURL(self, photo) -> str | None:
        key = renditions.thumbnail_key(photo.rendition_keys) or key_from_stored_url(photo.thumbnail_url)
        return self._url(photo, key, photo.thumbnail_url)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_fullSizeURL(self, photo) -> str | None:
        key = renditions.full_size_key(photo.rendition_keys) or key_from_stored_url(photo.full_size_url)
        return self._url(photo, key, photo.full_size_url)

    def _url(self, photo, key: str | None, stored: str | None = None) -> str | None:
        """The URL a reader gets for one of the photo's objects, made from its key with today's base
        (signed ones once per answer, so every field of the answer names the same URL)."""
        if not key:
            return stored
        urls = photo.__dict__.setdefault("_answer_urls", {})
        if key not in urls:
            urls[key] = readable_url(key, stored)
        return urls[key]

    @extend_schema_field(serializers.URLField(allow_null=True))
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

    @extend_schema_field(_RENDITIONS)
    def get_renditions(self, photo) -> dict:
        answer: dict = {}
        for rendition in renditions.stored_renditions(photo.rendition_keys):
            name = str(rendition.long_edge)
            extension = rendition.key.rsplit(".", 1)[-1]
            answer.setdefault(name, {})[extension] = self._url(photo, rendition.key)
        for alias, key in (
            ("thumb", renditions.thumbnail_key(photo.rendition_keys)),
            ("web", renditions.full_size_key(photo.rendition_keys)),
        ):
            if key is not None:
                name = str(renditions.long_edge_of(key))
                answer[alias] = dict(answer.get(name, {}))
        return answer

    @extend_schema_field(RenditionImageSerializer(many=True))
    def get_images(self, photo) -> list[dict]:
        return [
            {
                "width": width,
                "height": height,
                "format": rendition.format,
                "bytes": rendition.bytes,
                "url": self._url(photo, rendition.key),
            }
            for rendition, (width, height) in self._sized(photo)
        ]

    @extend_schema_field(SrcsetSerializer)
    def get_srcset(self, photo) -> dict:
        candidates: dict[str, list[str]] = {}
        for rendition, (width, _) in self._sized(photo):
            candidates.setdefault(rendition.format, []).append(f"{self._url(photo, rendition.key)} {width}w")
        return {format_name: ", ".join(entries) for format_name, entries in candidates.items()}

    def _sized(self, photo) -> list:
        """The photo's renditions with their pixels: as recorded, or for a photo made before sizes were
        recorded, as its renditions were made (the long edge fitted to the photo, never enlarged)."""
        found = []
        for rendition in renditions.stored_renditions(photo.rendition_keys, photo.renditions):
            if rendition.width and rendition.height:
                size = (rendition.width, rendition.height)
            elif photo.width and photo.height:
                size = renditions.fit((int(photo.width), int(photo.height)), rendition.long_edge)
            else:
                continue
            found.append((rendition, size))
        return found

    @extend_schema_field(ExifSerializer)
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

    @extend_schema_field(RatingHistogramSerializer)
    def get_ratingHistogram(self, photo) -> dict:
        return aggregate.histogram(photo)


# A page of photos, for the schema (one component for every answer that holds one: the photo list, a
# gallery's first photos).
PHOTO_PAGE = page_of(PhotoOutputSerializer, "PhotoPage")


class UploadedPhotoSerializer(PhotoOutputSerializer):
    """A photo an upload answers; `duplicateOf` when the file's bytes were a photo of the gallery already."""

    duplicateOf = serializers.CharField(
        source="duplicate_of",
        required=False,
        help_text=(
            "Only when this file's bytes are a photo of the gallery already (and `keepDuplicate` was not "
            "set): that photo's id; nothing was stored again and this is that photo."
        ),
    )

    class Meta:
        ref_name = "UploadedPhoto"


class UploadFailureSerializer(serializers.Serializer):
    """A file an upload refused (the others of the batch go on)."""

    index = serializers.IntegerField(help_text="The file's position in the request, from 0.")
    filename = serializers.CharField(help_text="The file's name as sent (may be empty).")
    code = serializers.CharField(
        help_text=(
            "Why: e.g. `empty`, `corrupt`, `not_an_image`, `unsupported_format`, `extension_mismatch`, "
            "`too_large`, `too_many_pixels`, `decode_too_large`, `decode_busy`, `upload_missing`, "
            "`upload_busy`, `duplicate`, `storage_unavailable`, `internal_error`."
        )
    )
    error = serializers.CharField(help_text="What went wrong, as a sentence a person can read.")
    status = serializers.IntegerField(
        help_text="The HTTP status this refusal alone would answer (400, 404, 409, 413, 415, 500, 503...)."
    )

    class Meta:
        ref_name = "UploadFailure"


class UploadResultSerializer(serializers.Serializer):
    """What an upload made: the stored photos (201), and the refused files when only some were (207)."""

    photos = UploadedPhotoSerializer(many=True, help_text="The stored photos, in the order they were sent.")
    # DRF's metaclass takes declared fields out of the class, so this one does not hide Serializer.errors.
    errors = UploadFailureSerializer(  # type: ignore[assignment]
        many=True, help_text="The refused files; empty with 201."
    )

    class Meta:
        ref_name = "UploadResult"


class PhotoDeletedSerializer(serializers.Serializer):
    galleryId = serializers.CharField()
    photoId = serializers.CharField()
    deleted = serializers.BooleanField(help_text="Always true.")

    class Meta:
        ref_name = "PhotoDeleted"


class KeepDuplicateSerializer(serializers.Serializer):
    """An upload's ``keepDuplicate`` form field: store a file even when the gallery has its bytes."""

    keepDuplicate = serializers.BooleanField(required=False, default=False)


class SentTagsField(TagsField):
    """A photo's tags as a JSON body sends them, counted as sent: a list needs none of the room for blanks
    and repeats that a form's 'a, b, a,' does, so at most MAX_TAGS entries (the schema's maxItems)."""

    def to_internal_value(self, data):
        if isinstance(data, list) and len(data) > MAX_TAGS:
            raise serializers.ValidationError([_TOO_MANY_TAGS])
        return super().to_internal_value(data)


class PhotoEditSerializer(serializers.Serializer):
    """A photo's changes (PATCH): only the fields sent change, each checked and cleaned as an upload's."""

    title = TextField(
        one_line=True,
        max_length=MAX_TITLE_LENGTH,
        required=False,
        allow_blank=True,
        help_text="One line: tabs and line breaks become spaces, control characters go.",
    )
    description = TextField(
        one_line=False,
        max_length=MAX_DESCRIPTION_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Free text; line breaks are kept, control characters removed.",
    )
    tags = SentTagsField(
        required=False,
        max_length=MAX_TAGS,
        help_text=f"Replace the tags: at most {MAX_TAGS}, each stored in lower case, spaces collapsed, once.",
    )
    altText = TextField(
        one_line=True,
        max_length=MAX_ALT_TEXT_LENGTH,
        required=False,
        allow_blank=True,
        source="alt_text",
        help_text="What a screen reader says in place of the photo (one line); empty for none.",
    )

    class Meta:
        ref_name = "PhotoEdit"
