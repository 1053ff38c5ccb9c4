from django.apps import AppConfig
from django.urls import register_converter


class LearnersConfig(AppConfig):
    name = "learners"
    verbose_name = "Learners and delivery plans"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import employers, search_index
        from .converters import IdentConverter

        # Registered here, before any URLconf loads: the integration's URLs use it too.
        register_converter(IdentConverter, "ident")
        employers.connect()
        post_migrate.connect(search_index.ensure_after_migrate, sender=self)
