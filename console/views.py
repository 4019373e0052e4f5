"""The console's pages: the galleries, and one gallery as a grid of thumbnails.

Each page reads through one selector and answers what the API would answer (its output serializers: the
renditions' URLs, ``images`` and ``srcset`` are built there, once); the templates only lay it out. Pages
are for curators only (``console.access``), never cached (signed URLs, private galleries), and GET only;
the edits are ``console.edits``.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import render
from django.urls import get_script_prefix, reverse
from django.views.decorators.cache import never_cache
from rest_framework.exceptions import ValidationError

from console.access import curator_required
from core import storage
from core.errors import NotFound
from core.http_errors import methods_only
from core.pagination import FIRST_PAGE, Page, page_size_from
from galleries import selectors as gallery_selectors
from galleries.models import location_privacy_of
from galleries.serializers import GalleryOutputSerializer
from photos.ordering import NEWEST, PHOTO_NUMBER, TAKEN_FIRST, TAKEN_LAST, TOP_RATED
from photos.prepare import CONTENT_TYPE_FORMATS
from photos.selectors import photo_list
from photos.serializers import PhotoOrderingQuerySerializer, PhotoOutputSerializer

# The API's ``?ordering=`` values, as the ordering form names them.
ORDERING_LABELS = {
    PHOTO_NUMBER: "By number",
    TOP_RATED: "Top rated first",
    TAKEN_FIRST: "Oldest taken first",
    TAKEN_LAST: "Newest taken first",
    NEWEST: "Newest uploaded first",
}
# How wide a thumbnail is drawn (console.css: grid cells of at most 20rem): the browser picks the
# rendition of ``srcset`` that fills it at the screen's density.
THUMBNAIL_SIZES = "(min-width: 40rem) 20rem, 100vw"
# Extensions the file picker offers beside the types: a phone's HEIC often comes with no type at all.
PICKER_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic", ".heif", ".hif", ".avif")
# What a page says after an edit that worked (``console.edits`` redirects with ``?done=<name>``): fixed
# sentences, so a link can choose one but never write its own.
DONE = {
    "gallery-created": "The gallery is created, private: add its photos, then publish it from Edit.",
    "gallery-saved": "The gallery is saved.",
    "photo-saved": "The photo is saved.",
    "cover-chosen": "The cover is chosen.",
    "photo-deleted": "The photo is deleted, with its files and ratings.",
    "gallery-deleted": "The gallery is deleted, with its photos and their ratings.",
}


def _page_links(path: str, page: Page, **query) -> dict:
    """The page's next and previous links: this page's path (under the stage prefix) with the same query
    and the listing's cursor, the keyed pagination of the API."""

    def link(cursor: str | None) -> str | None:
        if cursor is None:
            return None
        kept = {name: value for name, value in query.items() if value}
        if cursor != FIRST_PAGE:
            kept["cursor"] = cursor
        return f"{path}?{urlencode(kept)}" if kept else path

    return {"next": link(page.next_cursor), "previous": link(page.previous_cursor)}


def with_image_origins(response, urls: list[str | None], *, uploads: bool = False):
    """Let this page show its pictures: the origins of its image URLs (the bucket's, or the public
    base's) join ``img-src`` for this answer only, as django-csp's ``@csp_update`` does; nothing else of
    the site's policy changes. ``uploads``: the page also posts files to the bucket (``connect-src``)
    and shows photos added while it is open (every origin renditions are served from)."""
    if uploads:
        urls = [*urls, *storage.image_origins()]
    origins = sorted({origin for url in urls if url and (origin := storage.url_origin(url))})
    update = {"img-src": origins} if origins else {}
    if uploads:
        update["connect-src"] = [storage.upload_origin()]
    if update:
        response._csp_update = update
    return response


def done_message(request) -> str:
    """The fixed message a ``?done=`` names; nothing for any other value."""
    return DONE.get(request.GET.get("done", ""), "")


def problem(request, *, status: int, message: str):
    return render(request, "console/problem.html", {"message": message}, status=status)


def thumbnail(photo: dict) -> dict | None:
    """The smallest JPEG rendition: the ``src`` and the intrinsic size of the photo's ``<img>``
    (``srcset`` offers the others)."""
    return next((image for image in photo["images"] if image["format"] == "jpeg"), None)


@never_cache
@methods_only("GET", "HEAD")
@curator_required
def galleries(request):
    """Every gallery (curators see private and unlisted ones too), newest first, a page at a time."""
    try:
        page = gallery_selectors.gallery_list(
            cursor=request.GET.get("cursor") or None, page_size=page_size_from(request.GET), curator=True
        )
    except ValidationError:
        return problem(request, status=400, message="This page link is not valid; start again.")
    answers = GalleryOutputSerializer(page.items, many=True, context={"request": request.api}).data
    links = _page_links(reverse("console-galleries"), page, page_size=request.GET.get("page_size"))
    context = {"galleries": answers, "done": done_message(request), **links}
    response = render(request, "console/galleries.html", context)
    return with_image_origins(response, [gallery["coverPhotoURL"] for gallery in answers])


@never_cache
@methods_only("GET", "HEAD")
@curator_required
def gallery(request, gallery_id: str):
    """A gallery's photos as a grid of thumbnails, in the ordering asked for, a page at a time."""
    query = PhotoOrderingQuerySerializer(data=request.GET)
    if not query.is_valid():
        return problem(request, status=400, message="That is not an ordering of photos.")
    ordering = query.validated_data["ordering"]
    try:
        found = gallery_selectors.gallery_read(gallery_id=gallery_id, curator=True)
        page = photo_list(
            gallery_id=gallery_id,
            cursor=request.GET.get("cursor") or None,
            page_size=page_size_from(request.GET),
            ordering=ordering,
        )
    except NotFound:
        return problem(request, status=404, message="There is no such gallery.")
    except ValidationError:
        return problem(request, status=400, message="This page link is not valid; start again.")
    context = {"request": request.api, "location_privacy": location_privacy_of(found), "gallery": found}
    photos = [
        {**photo, "thumbnail": thumbnail(photo)}
        for photo in PhotoOutputSerializer(page.items, many=True, context=context).data
    ]
    links = _page_links(
        reverse("console-gallery", kwargs={"gallery_id": gallery_id}),
        page,
        ordering="" if ordering == PHOTO_NUMBER else ordering,
        page_size=request.GET.get("page_size"),
    )
    page_context = {
        "gallery": GalleryOutputSerializer(found, context={"request": request.api}).data,
        "photos": photos,
        "orderings": ORDERING_LABELS.items(),
        "ordering": ordering,
        "sizes": THUMBNAIL_SIZES,
        "done": done_message(request),
        # The uploader (console/static/console/upload.js): the API's base under the stage prefix, what
        # the file picker offers, and the size a file may have.
        "script_prefix": get_script_prefix(),
        "accepted_types": ",".join([*CONTENT_TYPE_FORMATS, *PICKER_EXTENSIONS]),
        "max_bytes": settings.PHOTO_MAX_BYTES,
        "max_megabytes": settings.PHOTO_MAX_BYTES // 1_000_000,
        **links,
    }
    response = render(request, "console/gallery.html", page_context)
    images = [image["url"] for photo in photos for image in photo["images"]]
    return with_image_origins(response, images, uploads=True)
