from django.contrib.admin.apps import AdminConfig


class PicswebAdminConfig(AdminConfig):
    default_site = "picsweb.admin.PicswebAdminSite"
