"""What the schema says gallery fields take agrees with what they take (galleries.serializers)."""

import re

import pytest

from core.validation import canonical_continent
from galleries.serializers import CONTINENT_PATTERN, VISIBLE_CHARACTER_PATTERN, GalleryInputSerializer

SPELLINGS = [
    "Europe", "europe", " NORTH  america ", "north-america", "South_America", "south -_ america", "Australia",
    "oceania", "Atlantis", "", "   ", "north", "north america x", "_europe", "europe-", "Eur ope",
    "europe\x00",
]  # fmt: skip


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_continent_pattern_takes_exactly_the_spellings_the_field_takes(spelling):
    taken = GalleryInputSerializer(data={"name": "n", "country": "c", "continent": spelling}).is_valid()
    assert bool(re.search(CONTINENT_PATTERN, spelling)) == taken
    assert taken == (canonical_continent(spelling) is not None and spelling.strip() != "")


@pytest.mark.parametrize("name", ["Paris", " x ", "", "   ", "\t\n", "\x00\x01", "\x1b[31m", "\x7f a"])
def test_the_visible_character_pattern_takes_exactly_the_names_the_field_takes(name):
    taken = GalleryInputSerializer(data={"name": name, "country": "c", "continent": "Europe"}).is_valid()
    assert bool(re.search(VISIBLE_CHARACTER_PATTERN, name)) == taken
