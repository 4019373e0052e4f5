"""Django app config of the shared kernel."""

from django.apps import AppConfig

from core.aws import share_botocore_sessions


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Shared kernel"

    def ready(self) -> None:
        share_botocore_sessions()
