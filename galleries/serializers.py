"""Gallery input and output serializers (plain Serializers: the data lives in DynamoDB); their fields'
``help_text`` and method fields' types are what the OpenAPI schema tells clients."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.storage import key_from_stored_url, readable_url
from core.validation import (
    CONTINENTS,
    FIRST_PHOTOGRAPH_YEAR,
    ContinentField,
    IdField,
    TextField,
    YearField,
    YearsField,
)
from galleries.models import (
    LOCATION_PRIVACY,
    LOCATION_PRIVACY_DEFAULT,
    VISIBILITY,
    downloads_allowed,
    location_privacy_of,
    visibility_of,
)

CONTINENT_FORMS_HELP = (
    "A continent: " + ", ".join(CONTINENTS) + ". Case is free, and spaces, '-' or '_' may separate the "
    "words ('north-america', 'NORTH_AMERICA'); 'Australia' means Oceania."
)
NAME_HELP = "The gallery's name (one line: tabs and line breaks become spaces, control characters go)."
COUNTRY_HELP = "The country its photos were taken in (one line); listings filter on it ignoring case."
DESCRIPTION_HELP = "Free text; line breaks are kept, control characters removed."
YEARS_HELP = (
    "Years its photos were taken, each from 1826 to next year; stored sorted without repeats. Years "
    "taken from photos' EXIF dates are added to them; a year a curator removes stays removed."
)
LOCATION_PRIVACY_HELP = (
    "What visitors see of where its photos were taken: hidden (no location), approximate (about a "
    "kilometre) or exact. Curators always see exact values."
)
VISIBILITY_HELP = (
    "public: listed and readable by everyone; unlisted: readable by id, never listed; private: curators "
    "only (visitors get 404)."
)
DOWNLOAD_HELP = (
    "Whether visitors may download originals (without their location unless locationPrivacy is exact); "
    "curators always may."
)


def _any_case(word: str) -> str:
    return "".join(f"[{letter.upper()}{letter.lower()}]" for letter in word)


# Every spelling ContinentField takes (core.validation.canonical_continent), as a JSON Schema pattern: a
# name in any case, its words apart by spaces, '-' or '_', blanks around it. Not an enum: clients may
# send these spellings, and a fuzzer must find them valid.
CONTINENT_SPELLINGS = "|".join(
    r"[\s_-]+".join(_any_case(word) for word in name.split()) for name in (*CONTINENTS, "Australia")
)
CONTINENT_PATTERN = rf"^\s*(?:{CONTINENT_SPELLINGS})\s*$"
# A curator's text that may not be blank needs a character that is neither blank nor a control character
# (TextField removes those, and what is left must not be empty).
VISIBLE_CHARACTER_PATTERN = r"[^\s\x00-\x1f\x7f-\x9f]"


@extend_schema_field({"type": "string", "pattern": CONTINENT_PATTERN})
class ContinentInputField(ContinentField):
    """``ContinentField`` as the schema describes it: the spellings it takes. No ``max_length``: the
    field's validators see the canonical name, never what was sent, so one would check nothing."""


@extend_schema_field({"type": "string", "pattern": VISIBLE_CHARACTER_PATTERN})
class NonBlankTextField(TextField):
    """``TextField`` (not blank) as the schema describes it: something visible must be left."""


@extend_schema_field({"type": "integer", "minimum": FIRST_PHOTOGRAPH_YEAR})
class PhotoYearField(YearField):
    """``YearField`` as the schema describes it. Its upper bound, next year, is in the descriptions only:
    the committed schema must not change with the calendar."""


class GalleryInputSerializer(serializers.Serializer):
    """A new gallery (POST)."""

    # Control characters (terminal escapes) are removed from what curators type, as from photo titles.
    name = NonBlankTextField(one_line=True, max_length=200, help_text=NAME_HELP)
    # Not an enum in the schema: it takes more spellings than the seven names it stores.
    continent = ContinentInputField(help_text=CONTINENT_FORMS_HELP + " Stored as the canonical name.")
    country = NonBlankTextField(one_line=True, max_length=100, help_text=COUNTRY_HELP)
    description = TextField(
        one_line=False,
        max_length=5000,
        allow_blank=True,
        required=False,
        default="",
        help_text=DESCRIPTION_HELP,
    )
    years = YearsField(child=PhotoYearField(), required=False, default=list, help_text=YEARS_HELP)
    locationPrivacy = serializers.ChoiceField(
        choices=LOCATION_PRIVACY,
        required=False,
        default=LOCATION_PRIVACY_DEFAULT,
        source="location_privacy",
        help_text=LOCATION_PRIVACY_HELP,
    )
    visibility = serializers.ChoiceField(
        choices=VISIBILITY,
        required=False,
        help_text=VISIBILITY_HELP + " Defaults to the operator's GALLERY_DEFAULT_VISIBILITY (public).",
    )
    allowOriginalDownload = serializers.BooleanField(
        required=False, default=False, source="allow_original_download", help_text=DOWNLOAD_HELP
    )


class GalleryUpdateSerializer(GalleryInputSerializer):
    """A gallery's changes (PUT and PATCH alike): only the fields sent change; the guide's PUT carries the
    id in the body."""

    galleryId = IdField(
        required=False,
        help_text="The gallery's id: needed on the guide's `PUT /galleries`; at a gallery's own URL it may "
        "be left out, and if sent must be that gallery's (else 400).",
    )
    description = TextField(
        one_line=False, max_length=5000, allow_blank=True, required=False, help_text=DESCRIPTION_HELP
    )
    years = YearsField(
        child=PhotoYearField(),
        required=False,
        help_text="The curator's years, replacing the gallery's (each from 1826 to next year); a year taken "
        "out stays out even when a photo's date has it.",
    )
    locationPrivacy = serializers.ChoiceField(
        choices=LOCATION_PRIVACY, required=False, source="location_privacy", help_text=LOCATION_PRIVACY_HELP
    )
    visibility = serializers.ChoiceField(
        choices=VISIBILITY,
        required=False,
        help_text=VISIBILITY_HELP + " A change also moves the photos' renditions (public or signed URLs).",
    )
    allowOriginalDownload = serializers.BooleanField(
        required=False, source="allow_original_download", help_text=DOWNLOAD_HELP
    )
    coverPhotoId = IdField(
        required=False,
        allow_null=True,
        source="cover_photo_id",
        help_text="Choose the cover: the id of a photo of this gallery (400 if it is not one); it holds "
        "until that photo is deleted. `null` gives the cover back to the automatic rule (the "
        "lowest-numbered photo).",
    )

    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


class GalleryListQuerySerializer(serializers.Serializer):
    continent = ContinentInputField(required=False)
    country = serializers.CharField(required=False, max_length=100)
    year = PhotoYearField(required=False)


class GalleryOutputSerializer(serializers.Serializer):
    """A gallery as readers see it."""

    galleryId = serializers.CharField(source="gallery_id", help_text="The gallery's id.")
    name = serializers.CharField(help_text="The gallery's name.")
    # Every write stores the canonical name (ContinentField, or the scan's placeholder).
    continent = serializers.ChoiceField(choices=CONTINENTS, help_text="The continent, by its canonical name.")
    country = serializers.CharField(help_text="The country, as the curator wrote it.")
    description = serializers.CharField(help_text="Free text; may be empty.")
    years = serializers.SerializerMethodField(help_text="Years its photos were taken, ascending, no repeats.")
    photoCount = serializers.IntegerField(source="photo_count", help_text="How many photos it has.")
    coverPhotoId = serializers.CharField(
        source="cover_photo_id",
        allow_null=True,
        help_text="Its cover photo's id: the curator's choice, else the lowest-numbered photo; null while "
        "it has no photo.",
    )
    coverPhotoURL = serializers.SerializerMethodField(
        help_text="A URL of its cover photo's rendition (public, or signed and short-lived), or null while "
        "it has no photo."
    )
    createdAt = serializers.CharField(
        source="created_at", help_text="When it was created: an ISO 8601 UTC timestamp."
    )
    updatedAt = serializers.CharField(
        source="updated_at", help_text="When it last changed: an ISO 8601 UTC timestamp."
    )
    locationPrivacy = serializers.SerializerMethodField(help_text=LOCATION_PRIVACY_HELP)
    visibility = serializers.SerializerMethodField(help_text=VISIBILITY_HELP)
    allowOriginalDownload = serializers.SerializerMethodField(help_text=DOWNLOAD_HELP)

    class Meta:
        ref_name = "Gallery"

    def get_coverPhotoURL(self, gallery) -> str | None:
        return readable_url(key_from_stored_url(gallery.cover_photo_url), gallery.cover_photo_url)

    @extend_schema_field(serializers.ChoiceField(choices=LOCATION_PRIVACY))
    def get_locationPrivacy(self, gallery) -> str:
        return location_privacy_of(gallery)

    @extend_schema_field(serializers.ChoiceField(choices=VISIBILITY))
    def get_visibility(self, gallery) -> str:
        return visibility_of(gallery)

    def get_allowOriginalDownload(self, gallery) -> bool:
        return downloads_allowed(gallery)

    def get_years(self, gallery) -> list[int]:
        return sorted({int(year) for year in gallery.years or []})


class GalleryDeletedSerializer(serializers.Serializer):
    """What deleting a gallery answers."""

    galleryId = serializers.CharField(help_text="The deleted gallery's id.")
    deleted = serializers.BooleanField(help_text="Always true: the gallery and its photos are gone.")
    photosDeleted = serializers.IntegerField(
        help_text="How many photos this request deleted (a repeated DELETE that finishes an interrupted one "
        "counts only the rest)."
    )

    class Meta:
        ref_name = "GalleryDeleted"
