"""Gallery input and output serializers (plain Serializers: the data lives in DynamoDB)."""

from rest_framework import serializers

from core.storage import key_from_stored_url, readable_url
from core.validation import ContinentField, IdField, TextField, YearField, YearsField
from galleries.models import (
    LOCATION_PRIVACY,
    LOCATION_PRIVACY_DEFAULT,
    VISIBILITY,
    downloads_allowed,
    location_privacy_of,
    visibility_of,
)


class GalleryInputSerializer(serializers.Serializer):
    # Control characters (terminal escapes) are removed from what curators type, as from photo titles.
    name = TextField(one_line=True, max_length=200)
    continent = ContinentField(max_length=40)
    country = TextField(one_line=True, max_length=100)
    description = TextField(one_line=False, max_length=5000, allow_blank=True, required=False, default="")
    years = YearsField(required=False, default=list)
    locationPrivacy = serializers.ChoiceField(
        choices=LOCATION_PRIVACY, required=False, default=LOCATION_PRIVACY_DEFAULT, source="location_privacy"
    )
    visibility = serializers.ChoiceField(
        choices=VISIBILITY,
        required=False,
        help_text="public: listed; unlisted: readable by id only; private: curators only. "
        "Defaults to the operator's GALLERY_DEFAULT_VISIBILITY (public).",
    )
    allowOriginalDownload = serializers.BooleanField(
        required=False, default=False, source="allow_original_download"
    )


class GalleryUpdateSerializer(GalleryInputSerializer):
    """PUT and PATCH: only the fields sent change; the guide's PUT carries the id in the body."""

    galleryId = IdField(required=False)
    description = TextField(one_line=False, max_length=5000, allow_blank=True, required=False)
    years = YearsField(required=False)
    locationPrivacy = serializers.ChoiceField(
        choices=LOCATION_PRIVACY, required=False, source="location_privacy"
    )
    allowOriginalDownload = serializers.BooleanField(required=False, source="allow_original_download")

    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class GalleryListQuerySerializer(serializers.Serializer):
    continent = ContinentField(required=False, max_length=40)
    country = serializers.CharField(required=False, max_length=100)
    year = YearField(required=False)


class GalleryOutputSerializer(serializers.Serializer):
    galleryId = serializers.CharField(source="gallery_id")
    name = serializers.CharField()
    continent = serializers.CharField()
    country = serializers.CharField()
    description = serializers.CharField()
    years = serializers.SerializerMethodField()
    photoCount = serializers.IntegerField(source="photo_count")
    coverPhotoURL = serializers.SerializerMethodField()
    createdAt = serializers.CharField(source="created_at")
    updatedAt = serializers.CharField(source="updated_at")
    locationPrivacy = serializers.SerializerMethodField()
    visibility = serializers.SerializerMethodField()
    allowOriginalDownload = serializers.SerializerMethodField()

    def get_coverPhotoURL(self, gallery) -> str | None:
        return readable_url(key_from_stored_url(gallery.cover_photo_url), gallery.cover_photo_url)

    def get_locationPrivacy(self, gallery) -> str:
        return location_privacy_of(gallery)

    def get_visibility(self, gallery) -> str:
        return visibility_of(gallery)

    def get_allowOriginalDownload(self, gallery) -> bool:
        return downloads_allowed(gallery)

    def get_years(self, gallery) -> list[int]:
        return sorted({int(year) for year in gallery.years or []})
