"""The order keys of a gallery's photos besides their number: when taken, and how they are rated.

Each is a string a DynamoDB index sorts by, ending in the photo number so ties have one order.
"""

# Sorts after every date: photos whose date is unknown come after the dated ones.
UNDATED = "~"
_NUMBER_DIGITS = 12
_LARGEST_NUMBER = 10**_NUMBER_DIGITS - 1


def taken_order(exif: dict, number: int) -> str:
    """``<dateTimeOriginal>#<number>``, or ``~#<number>`` when the photo's date is unknown."""
    taken = exif.get("dateTimeOriginal")
    prefix = taken if isinstance(taken, str) and taken else UNDATED
    return f"{prefix}#{int(number):0{_NUMBER_DIGITS}d}"


def rating_order(count: int, total: int, number: int) -> str:
    """The average to four decimals, then the number reversed, so that the index read backwards gives the
    top rated first and, among equals, the lowest number first; unrated photos come last."""
    count, total = int(count), int(total)
    average = round(total * 10_000 / count) if count > 0 else 0
    return f"{average:05d}#{_LARGEST_NUMBER - int(number):0{_NUMBER_DIGITS}d}"
