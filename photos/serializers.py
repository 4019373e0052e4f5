"""Photo serializers: the multipart upload's parallel lists, the delete body, and photo output."""

import json
import re

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from core.storage import key_from_stored_url, readable_url
from core.validation import IdField
from galleries.models import downloads_allowed
from photos import keys
from photos.privacy import exif_for
from ratings import aggregate

MAX_TAGS = 30
_TAG = serializers.CharField(max_length=50)
_TITLE = serializers.CharField(max_length=200, allow_blank=True)
_DESCRIPTION = serializers.CharField(max_length=5000, allow_blank=True)


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
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def _text_list(data, name: str, field: serializers.CharField) -> list[str]:
    """``titles``/``descriptions``: repeated fields, or one field holding a JSON array."""
    values = _field_values(data, name)
    if len(values) == 1 and (parsed := _json_list(values[0])) is not None:
        values = parsed
    try:
        return [field.run_validation("" if value is None else str(value)) for value in values]
    except serializers.ValidationError as error:
        raise serializers.ValidationError({name: error.detail}) from None


def _tag_lists(data, photo_count: int) -> list[list[str]]:
    """``tags``: one JSON array of arrays, or repeated fields each a JSON array or 'a, b, c'."""
    values = _field_values(data, "tags")
    if len(values) == 1 and (parsed := _json_list(values[0])) is not None:
        if all(isinstance(item, list) for item in parsed):
            values = parsed
        elif photo_count == 1:
            values = [parsed]
        else:
            raise serializers.ValidationError({"tags": ["With several photos, send an array of arrays."]})
    lists = []
    for value in values:
        if isinstance(value, str):
            value = _json_list(value) if _json_list(value) is not None else value.split(",")
        if not isinstance(value, list):
            raise serializers.ValidationError({"tags": ["Each photo's tags must be a list."]})
        lists.append(_clean_tags(value))
    return lists


def _clean_tags(values: list) -> list[str]:
    tags = []
    for value in values:
        if not isinstance(value, str):
            raise serializers.ValidationError({"tags": ["Tags must be text."]})
        tag = re.sub(r"\s+", " ", value).strip().lower()
        if tag and tag not in tags:
            try:
                tags.append(_TAG.run_validation(tag))
            except serializers.ValidationError as error:
                raise serializers.ValidationError({"tags": error.detail}) from None
    if len(tags) > MAX_TAGS:
        raise serializers.ValidationError({"tags": [f"At most {MAX_TAGS} tags per photo."]})
    return tags


def parse_upload(data, files) -> list[dict]:
    """The i-th title, description and tag list go with the i-th file; missing ones default."""
    uploads = files.getlist("photos") if hasattr(files, "getlist") else list(files.get("photos", []))
    if not uploads:
        raise serializers.ValidationError({"photos": ["Send one or more files in the 'photos' field."]})
    if len(uploads) > settings.PHOTO_MAX_FILES_PER_UPLOAD:
        limit = settings.PHOTO_MAX_FILES_PER_UPLOAD
        raise serializers.ValidationError({"photos": [f"At most {limit} files per upload."]})
    titles = _text_list(data, "titles", _TITLE)
    descriptions = _text_list(data, "descriptions", _DESCRIPTION)
    tags = _tag_lists(data, len(uploads))
    for name, values in (("titles", titles), ("descriptions", descriptions), ("tags", tags)):
        if len(values) > len(uploads):
            raise serializers.ValidationError({name: [f"{len(values)} given for {len(uploads)} photos."]})
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
    return stem[:200]


# The formats photos.imaging accepts, by content type (kept here so this module does not import Pillow;
# a test checks the two agree).
ACCEPTED_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/tiff")


class UploadSlotRequestSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=255, required=False, allow_blank=True)
    contentType = serializers.ChoiceField(choices=ACCEPTED_CONTENT_TYPES)


class UploadSlotsInputSerializer(serializers.Serializer):
    files = serializers.ListField(child=UploadSlotRequestSerializer(), min_length=1)

    def validate_files(self, files):
        if len(files) > settings.PHOTO_MAX_FILES_PER_UPLOAD:
            raise serializers.ValidationError(f"At most {settings.PHOTO_MAX_FILES_PER_UPLOAD} files at once.")
        return files


class PhotoUploadFormSerializer(serializers.Serializer):
    """The upload's fields as a form: the browsable API draws it for curators (one photo per submit) and
    OPTIONS describes it. Requests themselves are read by ``parse_upload``, which also takes many files."""

    photos = serializers.FileField(help_text="A JPEG, PNG, WebP or TIFF photo.")
    titles = serializers.CharField(required=False, max_length=200, help_text="Defaults to the file name.")
    descriptions = serializers.CharField(
        required=False, max_length=5000, style={"base_template": "textarea.html"}
    )
    tags = serializers.CharField(required=False, help_text="Comma-separated, e.g. 'night, paris'.")


class FromUploadSerializer(serializers.Serializer):
    uploadKey = serializers.CharField(max_length=300)
    filename = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)

    def validate_uploadKey(self, key):
        if not keys.is_upload_key_of(key, self.context["gallery_id"]):
            raise serializers.ValidationError("Not an upload key this gallery handed out.")
        return key

    def validate_tags(self, tags):
        return _clean_tags(tags)

    def validate(self, data):
        data.setdefault("title", _default_title(data["filename"]))
        return data


class FromUploadsInputSerializer(serializers.Serializer):
    uploads = serializers.ListField(child=FromUploadSerializer(), min_length=1)
    keepDuplicate = serializers.BooleanField(required=False, default=False)

    def validate_uploads(self, uploads):
        if len(uploads) > settings.PHOTO_MAX_FILES_PER_UPLOAD:
            raise serializers.ValidationError(
                f"At most {settings.PHOTO_MAX_FILES_PER_UPLOAD} photos at once."
            )
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
