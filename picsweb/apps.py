from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class PicswebAdminConfig(AdminConfig):
    default_site = "picsweb.admin.PicswebAdminSite"


class PicswebConfig(AppConfig):
    """The project itself, for its management commands (healthcheck)."""

    name = "picsweb"
    label = "picsweb"
