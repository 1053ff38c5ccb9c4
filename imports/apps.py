from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """Getting a provider's data in: the ILR (F32) and the LARS catalogue (F33)."""

    name = "imports"
    verbose_name = "Imports"
