"""Input rules shared by every app: identifiers, continents, years."""

import re
from datetime import UTC, datetime

from rest_framework import serializers

# Ids are uuid hex strings when we make them; galleries adopted from S3 prefixes may use any
# URL- and key-safe name, so the rule is about safety, not shape.
# Matched whole (fullmatch): "$" would also match before a trailing newline.
ID_PATTERN = "[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
ID_MAX_LENGTH = 128
_ID_PATTERN = re.compile(ID_PATTERN)

CONTINENTS = ("Africa", "Antarctica", "Asia", "Europe", "North America", "Oceania", "South America")
_CONTINENT_LOOKUP = {c.lower(): c for c in CONTINENTS} | {"australia": "Oceania"}
FIRST_PHOTOGRAPH_YEAR = 1826


def is_valid_id(value: str) -> bool:
    return isinstance(value, str) and bool(_ID_PATTERN.fullmatch(value))


def canonical_continent(value: str) -> str | None:
    """'north-america', 'NORTH  america' and 'North_America' are all 'North America'."""
    folded = re.sub(r"[\s_-]+", " ", value.strip()).lower()
    return _CONTINENT_LOOKUP.get(folded)


def latest_allowed_year() -> int:
    return datetime.now(UTC).year + 1


def is_plausible_year(year: int) -> bool:
    """A year a photograph can have been taken in: from the first photograph to next year."""
    return FIRST_PHOTOGRAPH_YEAR <= year <= latest_allowed_year()


class IdField(serializers.CharField):
    default_error_messages = {"invalid_id": "Must be 1-128 letters, digits, '.', '_' or '-'."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", ID_MAX_LENGTH)
        # An id is exact: "walker\n" or " walker" is not the id "walker" (DRF would trim it into it).
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not is_valid_id(value):
            self.fail("invalid_id")
        return value


class ContinentField(serializers.CharField):
    default_error_messages = {"unknown": "Must be one of: " + ", ".join(CONTINENTS) + "."}

    def to_internal_value(self, data):
        value = canonical_continent(super().to_internal_value(data))
        if value is None:
            self.fail("unknown")
        return value


class YearField(serializers.IntegerField):
    default_error_messages = {"range": "Must be a year from {first} to {last}."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, float) and not data.is_integer()):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not FIRST_PHOTOGRAPH_YEAR <= value <= latest_allowed_year():
            self.fail("range", first=FIRST_PHOTOGRAPH_YEAR, last=latest_allowed_year())
        return value


class YearsField(serializers.ListField):
    """A list of years, stored sorted and without repeats."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", YearField())
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        # Counted before any year is validated: DRF's max_length is checked only after every item (a
        # megabyte of bad years took seconds and answered megabytes of errors).
        if isinstance(data, list | tuple) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return sorted(set(super().to_internal_value(data)))


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"\r\n?")
_TAB_OR_NEWLINE = re.compile(r"[\t\n]")
_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str, *, one_line: bool) -> str:
    """``text`` without control characters; with ``one_line`` (titles, tags) tabs and line breaks become
    spaces, otherwise (descriptions) they stay, line breaks as LF."""
    text = _CONTROLS.sub("", _LINE_BREAKS.sub("\n", text))
    return _TAB_OR_NEWLINE.sub(" ", text) if one_line else text


class TextField(serializers.CharField):
    """A curator's text (a title, a description, a gallery's name and country): its length checked
    first, then its control characters removed (``clean_text``); a text that was only controls is blank
    (refused where blank is not allowed)."""

    def __init__(self, *, one_line: bool, **kwargs):
        self.one_line = one_line
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)  # str() and strip: linear, on a body of bounded size
        # A line break counts once, as stored (LF), though a browser's form sends it as CRLF: a text at
        # the limit that a form sends back unchanged still fits.
        if self.max_length is not None and len(value) - value.count("\r\n") > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        cleaned = clean_text(value, one_line=self.one_line).strip()
        if not cleaned and not self.allow_blank:
            self.fail("blank")
        return cleaned
