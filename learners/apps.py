from django.apps import AppConfig
from django.urls import register_converter


class LearnersConfig(AppConfig):
    name = "learners"
    verbose_name = "Learners and delivery plans"

    def ready(self) -> None:
        from . import employers
        from .converters import IdentConverter

        # Registered here, before any URLconf loads: the integration's URLs use it too.
        register_converter(IdentConverter, "ident")
        employers.connect()
