"""The orders a gallery's photos can be listed in, and the order keys of those besides their number: when
taken, and how they are rated.

Each key is a string a DynamoDB index sorts by, ending in the photo number so ties have one order.
"""

import re

# The orders a listing takes (``?ordering=``); the first is the default. A leading "-" reads backwards.
PHOTO_NUMBER = "photoNumber"
TOP_RATED = "-averageRating"
TAKEN_FIRST = "takenAt"
TAKEN_LAST = "-takenAt"
NEWEST = "-uploadedAt"
ORDERINGS = (PHOTO_NUMBER, TOP_RATED, TAKEN_FIRST, TAKEN_LAST, NEWEST)

# Sorts after every date: photos whose date is unknown come after the dated ones.
UNDATED = "~"
_NUMBER_DIGITS = 12
_LARGEST_NUMBER = 10**_NUMBER_DIGITS - 1
# The dates EXIF is read into (photos.imaging: ISO 8601, seconds). Anything else (a value another source
# stored) is treated as unknown: a key that sorted outside the dated range would be in neither part of
# the "taken" listing.
_SORTABLE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")


def taken_order(exif: dict, number: int) -> str:
    """``<dateTimeOriginal>#<number>``, or ``~#<number>`` when the photo's date is unknown."""
    taken = exif.get("dateTimeOriginal")
    prefix = taken if isinstance(taken, str) and _SORTABLE_DATE.fullmatch(taken) else UNDATED
    return f"{prefix}#{int(number):0{_NUMBER_DIGITS}d}"


def rating_order(count: int, total: int, number: int) -> str:
    """The average to four decimals, then the number reversed, so that the index read backwards gives the
    top rated first and, among equals, the lowest number first; unrated photos come last."""
    count, total = int(count), int(total)
    average = round(total * 10_000 / count) if count > 0 else 0
    return f"{average:05d}#{_LARGEST_NUMBER - int(number):0{_NUMBER_DIGITS}d}"
