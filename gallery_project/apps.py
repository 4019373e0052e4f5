"""Django app config of the project package (it owns the curator-key model and commands)."""

from django.apps import AppConfig


class GalleryProjectConfig(AppConfig):
    name = "gallery_project"
    verbose_name = "Photography gallery backend"
