"""Gallery reads: one gallery, which ids exist, and filtered, cursor-paginated listings."""

from collections.abc import Iterator

from core.errors import NotFound
from core.pagination import Page, paginate
from core.validation import is_valid_id
from galleries.models import LIST_PARTITION, PUBLIC_PARTITION, Gallery, country_key, visibility_of, visible_to


def gallery_get(*, gallery_id: str, include_deleting: bool = False) -> Gallery:
    """A gallery; one whose delete has begun is gone for everyone but the delete itself
    (``include_deleting``)."""
    if not is_valid_id(gallery_id):
        raise NotFound(f"Gallery {gallery_id[:128]!r} does not exist.")
    try:
        gallery = Gallery.get(gallery_id, consistent_read=True)
    except Gallery.DoesNotExist:
        raise NotFound(f"Gallery {gallery_id} does not exist.") from None
    if gallery.deleting_at is not None and not include_deleting:
        raise NotFound(f"Gallery {gallery_id} does not exist.")
    return gallery


def gallery_read(*, gallery_id: str, curator: bool) -> Gallery:
    """A gallery as a reader may see it: a private gallery is NotFound to anyone but curators, with the
    same answer as a gallery that does not exist (its existence is not revealed)."""
    gallery = gallery_get(gallery_id=gallery_id)
    if not visible_to(gallery, curator=curator):
        raise NotFound(f"Gallery {gallery_id} does not exist.")
    return gallery


def gallery_ids(*, start_at: str | None = None) -> Iterator[str]:
    """Every gallery's id, deleting ones included (a scan of the table, streamed, in the table's own
    order); ``start_at`` resumes an earlier listing at that gallery (a scan that ran out of time)."""
    resume = None
    if start_at is not None:
        yield start_at
        resume = {"galleryId": {"S": start_at}}
    for gallery in Gallery.scan(attributes_to_get=["galleryId"], last_evaluated_key=resume):
        yield gallery.gallery_id


def galleries_existing(*, gallery_ids: list[str]) -> set[str]:
    """Which of these ids have a gallery item, deleting ones included (one batch read; ids that cannot
    be gallery ids are not)."""
    valid = [gallery_id for gallery_id in gallery_ids if is_valid_id(gallery_id)]
    found = Gallery.batch_get(valid, consistent_read=True, attributes_to_get=["galleryId"]) if valid else ()
    return {gallery.gallery_id for gallery in found}


def galleries_listed(*, gallery_ids: set[str], curator: bool) -> dict[str, Gallery]:
    """Those of these galleries a reader may find without their link (in a listing or a search across
    galleries), by id: curators every gallery, anyone else public ones (an unlisted gallery is seen only
    through its link); never one whose delete has begun. One consistent batch read per 100 ids."""
    valid = sorted(gallery_id for gallery_id in gallery_ids if is_valid_id(gallery_id))
    found = Gallery.batch_get(valid, consistent_read=True) if valid else ()
    return {
        gallery.gallery_id: gallery
        for gallery in found
        if gallery.deleting_at is None and (curator or visibility_of(gallery) == "public")
    }


def gallery_list(
    *,
    cursor: str | None,
    page_size: int,
    curator: bool,
    continent: str | None = None,
    country: str | None = None,
    year: int | None = None,
) -> Page:
    """Galleries newest first, optionally only those of a continent, a country (any case) or a year.

    Curators see every gallery (the listing index); anyone else only public ones, from the sparse index
    of public galleries, so neither a page, its cursor nor its filters can reveal another. A filtered
    page examines a bounded number of galleries and answers a cursor to go on (``core.pagination``).
    """
    condition = Gallery.deleting_at.does_not_exist()
    clauses = [
        Gallery.continent == continent if continent else None,
        Gallery.country_key == country_key(country) if country else None,
        Gallery.years.contains(year) if year else None,
    ]
    for clause in clauses:
        if clause is not None:
            condition &= clause
    index, partition = (
        (Gallery.by_created_at, LIST_PARTITION)
        if curator
        else (Gallery.public_by_created_at, PUBLIC_PARTITION)
    )

    def fetch(start_key, limit):
        return index.query(
            partition,
            filter_condition=condition,
            scan_index_forward=False,
            last_evaluated_key=start_key,
            page_size=limit,
        )

    # A cursor opens only the listing (curators' or visitors') that made it.
    scope = "galleries:curator" if curator else "galleries"
    return paginate(
        fetch,
        model=Gallery,
        cursor=cursor,
        page_size=page_size,
        scope=scope,
        filtered=any(clause is not None for clause in clauses),
    )
