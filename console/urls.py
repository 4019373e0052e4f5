"""The console's pages, under ``console/`` (gallery_project.urls)."""

from django.urls import path

from console import views

urlpatterns = [
    path("", views.galleries, name="console-galleries"),
    path("galleries/<str:gallery_id>/", views.gallery, name="console-gallery"),
]
