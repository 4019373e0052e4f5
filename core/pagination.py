"""Cursor pagination over DynamoDB: opaque, signed tokens wrapping LastEvaluatedKey.

A page answers ``{"results": [...], "next": url|null, "previous": url|null}`` like DRF's
CursorPagination. The token carries the start key of the page and the start keys of the pages
before it (the last ``HISTORY_LIMIT``), because DynamoDB cannot read backwards from a key.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from rest_framework.exceptions import ValidationError
from rest_framework.utils.urls import remove_query_param, replace_query_param

logger = logging.getLogger(__name__)

CURSOR_PARAM = "cursor"
PAGE_SIZE_PARAM = "page_size"
HISTORY_LIMIT = 20
FIRST_PAGE = ""
_SALT = "gallery.pagination.cursor"

RawKey = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None
    previous_cursor: str | None  # FIRST_PAGE when the previous page is the first one


def _encode(start: RawKey | None, history: list, scope: str) -> str:
    return signing.dumps({"s": start, "h": history}, salt=f"{_SALT}:{scope}", compress=True)


def _decode(token: str, scope: str) -> tuple[RawKey | None, list]:
    try:
        state = signing.loads(token, salt=f"{_SALT}:{scope}")
        start, history = state["s"], state["h"]
        if (start is not None and not isinstance(start, dict)) or not isinstance(history, list):
            raise ValueError
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise _invalid_cursor() from None
    return start, history


def _invalid_cursor() -> ValidationError:
    """A cursor that is not one this listing made (another listing's, another order's, or altered)."""
    return ValidationError({CURSOR_PARAM: ["This cursor is not valid; start again from the first page."]})


def page_size_from(query_params) -> int:
    raw = query_params.get(PAGE_SIZE_PARAM)
    if raw in (None, ""):
        return settings.PAGE_SIZE_DEFAULT
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise ValidationError({PAGE_SIZE_PARAM: ["Must be a whole number of at least 1."]})
    return min(size, settings.PAGE_SIZE_MAX)


# A filtered listing examines at most this many items per request, then answers what it found with a
# cursor to go on: its cost does not grow with the gallery (a page may then hold fewer items than asked,
# or none, with a ``next`` link).
EXAMINED_MAX = 300
# Items a filtered listing asks DynamoDB to examine per round trip (Limit bounds examined items).
EXAMINE_BATCH = 100


def paginate(
    fetch: Callable[[RawKey | None, int], Iterator],
    *,
    model: Any,
    cursor: str | None,
    page_size: int,
    scope: str,
    filtered: bool = False,
) -> Page:
    """Read one page. ``fetch(start_key, limit)`` returns a PynamoDB query's ResultIterator starting
    after that key, examining ``limit`` items per round trip; its raw pages are read here.

    ``scope`` names the listing (e.g. one gallery's photos): a cursor only opens the listing that made
    it, since another listing's key would reach DynamoDB as an invalid start key.

    One item past the page is read, so ``next`` is only given when another item really exists. The next
    page starts after the last item returned (``_key_of``), so a cursor names only items its reader saw;
    except when a ``filtered`` listing stops at ``EXAMINED_MAX`` examined items: it then resumes after the
    last item examined, which the caller's query must only let be an item its reader may know of (a
    visitor's listing of galleries reads an index of public galleries only).
    """
    start, history = _decode(cursor, scope) if cursor else (None, [])
    limit = EXAMINE_BATCH if filtered else page_size + 1
    pages = fetch(start, limit).page_iter  # type: ignore[attr-defined]
    items: list = []
    resume_key: RawKey | None = None
    for page in pages:
        for raw in page.get("Items", ()):
            if len(items) == page_size:  # one item past the page: there is a next page
                resume_key = _key_of(items[-1], pages)
                break
            items.append(model.from_raw_data(raw))
        else:
            if filtered and pages.total_scanned_count >= EXAMINED_MAX and pages.last_evaluated_key:
                resume_key = pages.last_evaluated_key  # examined enough: go on from here next time
                break
            continue
        break
    next_cursor = None
    if resume_key is not None:
        next_cursor = _encode(resume_key, [*history, start][-HISTORY_LIMIT:], scope)
    previous_cursor = None
    if history:
        previous_cursor = FIRST_PAGE if history[-1] is None else _encode(history[-1], history[:-1], scope)
    return Page(items, next_cursor, previous_cursor)


@dataclass(frozen=True)
class Looked:
    """What a keyed listing's reader made of one key: the item to answer (None: skipped), and whether
    its reader may know of it (only then may a cursor name its key)."""

    item: Any
    known: bool = True


READ_BATCH_MIN = 25  # items a filtered keyed listing reads at once, at least


def paginate_keyed(
    parts: Sequence[Callable[[RawKey | None, int], Iterator]],
    read: Callable[[list[RawKey]], list[Looked]],
    *,
    cursor: str | None,
    page_size: int,
    scope: str,
    filtered: bool = False,
) -> Page:
    """Read one page of a listing whose order comes from queries that answer keys only (a keys-only
    index), the items themselves then read by ``read`` (a strongly consistent batch read, say), which
    also decides what is answered: what is skipped (a photo being deleted, one without the tag) is
    skipped in memory, never by DynamoDB's filter, which cannot see attributes a keys-only index lacks.

    ``parts`` are queries read one after the other (``fetch(start_key, limit)`` like ``paginate``'s):
    the photos taken on known dates, then those whose date is unknown, say. A cursor names the part and
    the key to resume after, signed for ``scope`` like ``paginate``'s.

    Keys are read ``page_size + 1`` at a time (``EXAMINE_BATCH`` when ``filtered``) and items only as
    many as the page still needs plus one, so ``next`` is given only when another item really exists.
    The next page starts after the last item answered; a request that examined ``EXAMINED_MAX`` keys
    answers what it found and resumes after the last key examined that its reader may know of (none:
    the listing ends there, and says so in the log).
    """
    start, history = _decode(cursor, scope) if cursor else (None, [])
    part, key = _position_of(start, len(parts))
    limit = EXAMINE_BATCH if filtered else page_size + 1
    items: list = []
    answered: dict | None = None  # where the last item answered is
    known: dict | None = None  # where the last key examined that the reader may know of is
    resume: dict | None = None
    examined = 0
    done = False
    while part < len(parts) and not done:
        pages = parts[part](key, limit).page_iter  # type: ignore[attr-defined]
        for page in pages:
            keys = [{name: raw[name] for name in pages.key_names} for raw in page.get("Items", ())]
            while keys and not done:
                # Items as many as the page still needs plus one; filtered, at least READ_BATCH_MIN at
                # once (a page of one that examines hundreds of keys would otherwise make hundreds of
                # reads; items read past the page are dropped, the cursor resumes after the last answered).
                wanted = page_size + 1 - len(items)
                size = max(wanted, READ_BATCH_MIN) if filtered else wanted
                batch, keys = keys[:size], keys[size:]
                for found, looked in zip(batch, read(batch), strict=True):
                    position = {"p": part, "k": found}
                    if looked.item is not None:
                        if len(items) == page_size:  # one item past the page: there is a next page
                            resume, done = answered, True
                            break
                        items.append(looked.item)
                        answered = position
                    if looked.known or looked.item is not None:
                        known = position
                    examined += 1
            if done:
                break
            if examined >= EXAMINED_MAX:
                if pages.last_evaluated_key or part + 1 < len(parts):
                    resume = known
                    if resume is None:
                        logger.warning(
                            "listing %s: %d keys examined, none answerable; ended", scope, examined
                        )
                done = True
                break
        part, key = part + 1, None
    next_cursor = None
    if resume is not None:
        next_cursor = _encode(resume, [*history, start][-HISTORY_LIMIT:], scope)
    previous_cursor = None
    if history:
        previous_cursor = FIRST_PAGE if history[-1] is None else _encode(history[-1], history[:-1], scope)
    return Page(items, next_cursor, previous_cursor)


def _position_of(start: RawKey | None, parts: int) -> tuple[int, RawKey | None]:
    """The part and the key a keyed listing's cursor resumes at (the first part's start without one)."""
    if start is None:
        return 0, None
    part, key = start.get("p"), start.get("k")
    if not isinstance(part, int) or not 0 <= part < parts or (key is not None and not isinstance(key, dict)):
        raise _invalid_cursor()
    return part, key


def _key_of(item, pages) -> RawKey:
    """The start key that resumes right after ``item``: built from the item itself, never DynamoDB's
    LastEvaluatedKey, which names the last item *evaluated*, and with a filter can be an item the
    reader may not see: a cursor would carry its key."""
    serialized = item.serialize()
    return {name: serialized[name] for name in pages.key_names}


def page_links(request, page: Page, *, path: str | None = None) -> dict:
    """The next/previous URLs of a page, keeping every other query parameter of the request.

    ``path`` points the links at another listing (a gallery's detail embeds its first photo page).
    """
    url = request.build_absolute_uri(path) if path else request.build_absolute_uri()
    next_url = replace_query_param(url, CURSOR_PARAM, page.next_cursor) if page.next_cursor else None
    if page.previous_cursor is None:
        previous_url = None
    elif page.previous_cursor == FIRST_PAGE:
        previous_url = remove_query_param(url, CURSOR_PARAM)
    else:
        previous_url = replace_query_param(url, CURSOR_PARAM, page.previous_cursor)
    return {"next": next_url, "previous": previous_url}
