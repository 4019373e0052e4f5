"""The console's pages, under ``console/`` (gallery_project.urls)."""

from django.urls import path

from console import edits, views

urlpatterns = [
    path("", views.galleries, name="console-galleries"),
    path("galleries/new/", edits.gallery_create_page, name="console-gallery-create"),
    path("galleries/<str:gallery_id>/", views.gallery, name="console-gallery"),
    path("galleries/<str:gallery_id>/edit/", edits.gallery_edit_page, name="console-gallery-edit"),
    path("galleries/<str:gallery_id>/delete/", edits.gallery_delete_page, name="console-gallery-delete"),
    path(
        "galleries/<str:gallery_id>/photos/<str:photo_id>/edit/",
        edits.photo_edit_page,
        name="console-photo-edit",
    ),
    path(
        "galleries/<str:gallery_id>/photos/<str:photo_id>/delete/",
        edits.photo_delete_page,
        name="console-photo-delete",
    ),
    path(
        "galleries/<str:gallery_id>/photos/<str:photo_id>/cover/",
        edits.cover_choose,
        name="console-photo-cover",
    ),
]
