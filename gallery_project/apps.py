"""Django app config for the project package (it owns the curator-key model and commands)."""

from django.apps import AppConfig


class GalleryProjectConfig(AppConfig):
    name = "gallery_project"
    verbose_name = "Photography gallery backend"

    def ready(self) -> None:
        from gallery_project.aws import share_botocore_sessions

        share_botocore_sessions()
