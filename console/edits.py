"""The console's edits: a gallery's and a photo's forms, the cover, and deletes behind a confirmation.

Each POST is checked by the API's own input serializer and done by the owners' services, the ones the
API's endpoints call (``photos.services.cover.gallery_edit``, ``photos.services.edit.photo_edit``,
``photos.services.delete``); nothing here writes a table or decides a rule. An edit carries the version
its form was made from (a hidden field, the API's If-Match), so an edit made elsewhere meanwhile is
shown instead of being overwritten. A successful POST redirects to a page (POST/redirect/GET) with
``?done=`` naming one of the console's fixed messages (``console.views.DONE``): the messages framework
is not installed, and a fixed name keeps anyone from putting their own words on a curator's page.
"""

import contextlib
import re
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from console import forms
from console.access import curator_required
from console.views import THUMBNAIL_SIZES, problem, thumbnail, with_image_origins
from core.errors import Conflict, DeadlineReached, NotFound, PreconditionFailed, Rejected
from core.http_errors import methods_only
from core.idempotency import derived_id
from galleries import selectors as gallery_selectors
from galleries.models import location_privacy_of, visibility_of
from galleries.serializers import GalleryInputSerializer, GalleryOutputSerializer, GalleryUpdateSerializer
from galleries.services import gallery_create
from photos.ordering import PHOTO_NUMBER
from photos.selectors import photo_get, photo_list
from photos.serializers import PhotoEditSerializer, PhotoOutputSerializer
from photos.services.cover import gallery_edit
from photos.services.delete import gallery_delete, photo_delete
from photos.services.edit import photo_edit
from photos.services.placement import placed_after_edit

CHANGED_MEANWHILE = (
    "This was changed meanwhile, somewhere else (or a photo was added): nothing you sent was saved yet. "
    "Your changes are still in the form, now over the current version: check them and save again."
)
GONE = "There is no such gallery."
FORM_ID = re.compile(r"[0-9a-f]{32}")
NO_SUCH_PHOTO = "There is no such photo in this gallery."


def _done(url_name: str, done: str, **kwargs) -> HttpResponseRedirect:
    """After a POST that worked: the page to show, with its fixed message."""
    return HttpResponseRedirect(f"{reverse(url_name, kwargs=kwargs)}?{urlencode({'done': done})}")


def _posted_version(request) -> int | None:
    """The version the form was made from; None when the field is missing or not a number."""
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


def _refusal(version: int | None, body) -> tuple[dict, str] | None:
    """Why a posted form is sent back (errors by field, and the alert), or None when it may be saved."""
    if version is None:
        return {}, "The form lost its version; start again from this page."
    if not body.is_valid():
        return body.errors, "Nothing was saved: correct the fields marked below."
    return None


def _gallery_page(
    request, gallery, *, fields: list[dict], status: int = 200, alert: str = "", version: int | None = None
):
    """The gallery's form. ``version``: the one the form was opened from, kept when it comes back with
    errors (the stored one may be newer: saving then must still be refused, never overwrite it)."""
    context = {
        "heading": f"Edit {gallery.name}",
        "action": reverse("console-gallery-edit", kwargs={"gallery_id": gallery.gallery_id}),
        "back": reverse("console-gallery", kwargs={"gallery_id": gallery.gallery_id}),
        "back_label": "Back to the gallery",
        "gallery": GalleryOutputSerializer(gallery, context={"request": request.api}).data,
        "version": int(gallery.version or 0) if version is None else version,
        "fields": fields,
        "alert": alert,
    }
    return render(request, "console/gallery_edit.html", context, status=status)


@never_cache
@methods_only("GET", "HEAD", "POST")
@curator_required
def gallery_create_page(request):
    """A new gallery's form; its POST is the API's create (the same serializer and service), then the
    gallery's page, where its photos are added."""
    context = {
        "heading": "New gallery",
        "action": reverse("console-gallery-create"),
        "back": reverse("console-galleries"),
        "back_label": "Back to the galleries",
        "version": None,
        "alert": "",
    }
    if request.method != "POST":
        fields = forms.gallery_fields(forms.gallery_new())
        context["form_id"] = uuid.uuid4().hex
        return render(request, "console/gallery_edit.html", {**context, "fields": fields})
    form_id = request.POST.get("form_id", "")
    context["form_id"] = form_id if FORM_ID.fullmatch(form_id) else uuid.uuid4().hex
    body = GalleryInputSerializer(data=forms.gallery_body(request.POST))
    if not body.is_valid():
        fields = forms.gallery_fields(forms.gallery_posted(request.POST), body.errors)
        alert = "Nothing was saved: correct the fields marked below."
        return render(
            request, "console/gallery_edit.html", {**context, "fields": fields, "alert": alert}, status=400
        )
    # The form's own id names the gallery it makes: the same form sent twice (a double click, a
    # reload) lands on the gallery the first made instead of making a second.
    gallery_id = derived_id(
        f"console-form:{context['form_id']}", getattr(request.api.user, "key_id", "") or ""
    )
    with contextlib.suppress(Conflict):  # made by this form already
        gallery_create(**body.validated_data, gallery_id=gallery_id)
    return _done("console-gallery", "gallery-created", gallery_id=gallery_id)


@never_cache
@methods_only("GET", "HEAD", "POST")
@curator_required
def gallery_edit_page(request, gallery_id: str):
    """A gallery's form, prefilled; its POST is the API's edit with If-Match."""
    try:
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_id, curator=True)
    except NotFound:
        return problem(request, status=404, message=GONE)
    if request.method != "POST":
        answer = GalleryOutputSerializer(gallery, context={"request": request.api}).data
        return _gallery_page(request, gallery, fields=forms.gallery_fields(answer))

    body = GalleryUpdateSerializer(data=forms.gallery_body(request.POST))
    version = _posted_version(request)
    refused = _refusal(version, body)
    if refused is not None:
        errors, alert = refused
        fields = forms.gallery_fields(forms.gallery_posted(request.POST), errors)
        return _gallery_page(request, gallery, fields=fields, status=400, alert=alert, version=version)
    changes = dict(body.validated_data)
    if changes.get("visibility") == visibility_of(gallery):
        del changes["visibility"]  # unchanged: no placement pass over every photo (the API's PUT alike)
    try:
        edited = gallery_edit(gallery_id=gallery_id, expected_version=version, **changes)
    except NotFound:
        return problem(request, status=404, message=GONE)
    except (PreconditionFailed, Conflict):
        try:
            current = gallery_selectors.gallery_read(gallery_id=gallery_id, curator=True)
        except NotFound:  # deleted meanwhile
            return problem(request, status=404, message=GONE)
        # What the curator typed stays in the form, now over the current version: saving again keeps it.
        fields = forms.gallery_fields(forms.gallery_posted(request.POST))
        return _gallery_page(request, current, fields=fields, status=409, alert=CHANGED_MEANWHILE)
    placed_after_edit(gallery=edited, changes=changes)  # as the API's edit does
    return _done("console-gallery", "gallery-saved", gallery_id=gallery_id)


def _photo_context(request, gallery) -> dict:
    return {"request": request.api, "location_privacy": location_privacy_of(gallery), "gallery": gallery}


def _photo_page(
    request,
    gallery,
    photo,
    *,
    fields: list[dict],
    status: int = 200,
    alert: str = "",
    version: int | None = None,
):
    """The photo's form; ``version`` as for the gallery's (``_gallery_page``)."""
    answer = PhotoOutputSerializer(photo, context=_photo_context(request, gallery)).data
    context = {
        "gallery": GalleryOutputSerializer(gallery, context={"request": request.api}).data,
        "photo": {**answer, "thumbnail": thumbnail(answer)},
        "sizes": THUMBNAIL_SIZES,
        "version": photo.edit_version() if version is None else version,
        "tags_shown": forms.tags_text(photo.tags),
        "fields": fields,
        "alert": alert,
    }
    response = render(request, "console/photo_edit.html", context, status=status)
    return with_image_origins(response, [image["url"] for image in answer["images"]])


def _photo_values(photo) -> dict:
    return {
        "title": photo.title or "",
        "description": photo.description or "",
        "tags": list(photo.tags or []),
        "altText": photo.alt_text or "",
    }


@never_cache
@methods_only("GET", "HEAD", "POST")
@curator_required
def photo_edit_page(request, gallery_id: str, photo_id: str):
    """A photo's form (title, description, tags, alt text), prefilled; its POST is the API's PATCH with
    If-Match."""
    try:
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_id, curator=True)
        photo = photo_get(gallery_id=gallery_id, photo_id=photo_id)
    except NotFound:
        return problem(request, status=404, message=NO_SUCH_PHOTO)
    if request.method != "POST":
        return _photo_page(request, gallery, photo, fields=forms.photo_fields(_photo_values(photo)))

    body = PhotoEditSerializer(data=forms.photo_body(request.POST))
    version = _posted_version(request)
    refused = _refusal(version, body)
    if refused is not None:
        errors, alert = refused
        fields = forms.photo_fields(forms.photo_posted(request.POST), errors)
        return _photo_page(request, gallery, photo, fields=fields, status=400, alert=alert, version=version)
    try:
        photo_edit(gallery_id=gallery_id, photo_id=photo_id, expected_version=version, **body.validated_data)
    except NotFound:
        return problem(request, status=404, message=NO_SUCH_PHOTO)
    except (PreconditionFailed, Conflict):
        try:
            current = photo_get(gallery_id=gallery_id, photo_id=photo_id)
        except NotFound:  # deleted meanwhile
            return problem(request, status=404, message=NO_SUCH_PHOTO)
        fields = forms.photo_fields(forms.photo_posted(request.POST))  # what was typed, over the current
        return _photo_page(request, gallery, current, fields=fields, status=409, alert=CHANGED_MEANWHILE)
    return _done("console-gallery", "photo-saved", gallery_id=gallery_id)


@never_cache
@methods_only("GET", "HEAD", "POST")
@curator_required
def cover_choose(request, gallery_id: str, photo_id: str):
    """Make this photo the gallery's cover: the API's edit with ``coverPhotoId``. The gallery page
    posts here from each photo; a GET (a link followed, a reload) asks first."""
    if request.method == "POST":
        try:
            gallery_edit(gallery_id=gallery_id, cover_photo_id=photo_id)
        except NotFound:
            return problem(request, status=404, message=GONE)
        except Rejected:  # not a live photo of this gallery (deleted meanwhile)
            return problem(request, status=400, message=NO_SUCH_PHOTO)
        except Conflict:
            return problem(request, status=409, message="The gallery kept changing; try again.")
        return _done("console-gallery", "cover-chosen", gallery_id=gallery_id)
    try:
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_id, curator=True)
        photo = photo_get(gallery_id=gallery_id, photo_id=photo_id)
    except NotFound:
        return problem(request, status=404, message=NO_SUCH_PHOTO)
    answer = PhotoOutputSerializer(photo, context=_photo_context(request, gallery)).data
    context = {
        "gallery": GalleryOutputSerializer(gallery, context={"request": request.api}).data,
        "photo": {**answer, "thumbnail": thumbnail(answer)},
        "sizes": THUMBNAIL_SIZES,
    }
    response = render(request, "console/cover.html", context)
    return with_image_origins(response, [image["url"] for image in answer["images"]])


@never_cache
@methods_only("GET", "HEAD", "POST")
@curator_required
def photo_delete_page(request, gallery_id: str, photo_id: str):
    """What deleting this photo removes; its POST deletes it (the API's delete)."""
    try:
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_id, curator=True)
        photo = photo_get(gallery_id=gallery_id, photo_id=photo_id)
    except NotFound:
        return problem(request, status=404, message=NO_SUCH_PHOTO)
    if request.method == "POST":
        try:
            photo_delete(gallery_id=gallery_id, photo_id=photo_id)
        except NotFound:
            return problem(request, status=404, message=NO_SUCH_PHOTO)
        except Conflict:
            return problem(request, status=409, message="The gallery kept changing; try again.")
        return _done("console-gallery", "photo-deleted", gallery_id=gallery_id)
    answer = PhotoOutputSerializer(photo, context=_photo_context(request, gallery)).data
    context = {
        "gallery": GalleryOutputSerializer(gallery, context={"request": request.api}).data,
        "photo": {**answer, "thumbnail": thumbnail(answer)},
        "sizes": THUMBNAIL_SIZES,
        "renditions": len(photo.rendition_keys or []),
    }
    response = render(request, "console/photo_delete.html", context)
    return with_image_origins(response, [image["url"] for image in answer["images"]])


@never_cache
@methods_only("GET", "HEAD", "POST")
@curator_required
def gallery_delete_page(request, gallery_id: str):
    """What deleting this gallery removes (its photos, their ratings); its POST deletes it all (the
    API's delete)."""
    if request.method == "POST":
        # Not read first: a gallery whose delete began (and ran out of time) reads as gone, and this
        # finishes it.
        try:
            gallery_delete(gallery_id=gallery_id)
        except NotFound:
            return problem(request, status=404, message=GONE)
        except DeadlineReached:
            return render(
                request, "console/gallery_delete_begun.html", {"gallery_id": gallery_id}, status=202
            )
        return _done("console-galleries", "gallery-deleted")
    try:
        gallery = gallery_selectors.gallery_read(gallery_id=gallery_id, curator=True)
    except NotFound:
        return problem(request, status=404, message=GONE)
    # The first photos by number, as many as a page of the API holds; the count says how many in all.
    page = photo_list(
        gallery_id=gallery_id, cursor=None, page_size=settings.PAGE_SIZE_MAX, ordering=PHOTO_NUMBER
    )
    photos = PhotoOutputSerializer(page.items, many=True, context=_photo_context(request, gallery)).data
    answer = GalleryOutputSerializer(gallery, context={"request": request.api}).data
    context = {
        "gallery": answer,
        "photos": photos,
        "more": max(0, answer["photoCount"] - len(photos)),
        "ratings": sum(photo["ratingCount"] for photo in photos),
    }
    return render(request, "console/gallery_delete.html", context)
