from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate


class PicswebAdminConfig(AdminConfig):
    default_site = "picsweb.admin.PicswebAdminSite"


class PicswebConfig(AppConfig):
    """The project itself: its management commands (healthcheck) and its roles."""

    name = "picsweb"
    label = "picsweb"

    def ready(self) -> None:
        post_migrate.connect(roles_after_migrate, dispatch_uid="picsweb.roles_after_migrate")


def roles_after_migrate(
    sender: AppConfig, using: str, apps: Apps = global_apps, **kwargs: object
) -> None:
    """The roles after every ``migrate`` or ``flush``. post_migrate is sent once per installed
    app, in the order of INSTALLED_APPS: act once, on the last of the apps the roles need."""
    from . import roles

    needed = {"auth", "contenttypes", *roles.RIGHTS_APPS}
    last = [config.label for config in global_apps.get_app_configs() if config.label in needed][-1]
    if sender.label == last:
        roles.roles_ensure(apps=apps, using=using)
