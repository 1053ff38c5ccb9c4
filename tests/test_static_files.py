"""Outside production the static files come from the apps' folders, and starting the web app
warns about nothing: no missing collectstatic folder, no form field Django is about to change."""

import warnings

from django.test import Client

from smartassessor.models import IntegrationSettings
from tests.factories import UserFactory


def _warnings_while(action) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    # A ResourceWarning comes whenever the collector finds some earlier test's unclosed file.
    return [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, ResourceWarning)
    ]


def test_static_files_are_served_without_collectstatic_and_without_a_warning(db):
    responses = []
    # A new client builds the middleware again, as a starting web process does.
    caught = _warnings_while(lambda: responses.append(Client().get("/static/css/picsweb.css")))

    responses[0].close()  # a file response holds the file open until closed
    assert responses[0].status_code == 200
    assert caught == []


def test_the_integration_settings_form_assumes_https_and_warns_about_nothing(db):
    record = IntegrationSettings.load()
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    pages = []

    caught = _warnings_while(
        lambda: pages.append(
            client.get(f"/admin/smartassessor/integrationsettings/{record.pk}/change/")
        )
    )

    assert pages[0].status_code == 200 and 'name="base_url"' in pages[0].content.decode()
    assert caught == []
