"""Django app config of the project package (it owns the curator-key model and commands)."""

from django.apps import AppConfig
from django.contrib.staticfiles.apps import StaticFilesConfig as DjangoStaticFilesConfig


class GalleryProjectConfig(AppConfig):
    name = "gallery_project"
    verbose_name = "Photography gallery backend"


class StaticFilesConfig(DjangoStaticFilesConfig):
    """Django's static files, without source maps: `collectstatic` (the Lambda package, `make run`) leaves
    them out (gallery_project.staticfiles.CollectedStaticFiles says why), nor TypeScript typings (the
    JavaScript client's schema.d.ts: for editors, never loaded by a page)."""

    ignore_patterns = [*DjangoStaticFilesConfig.ignore_patterns, "*.map", "*.d.ts"]
