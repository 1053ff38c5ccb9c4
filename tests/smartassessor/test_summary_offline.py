"""No page waits on Smart Assessor (issue 15 pt 9): the Summary renders from local data, and what
needs Smart Assessor (its event types, Test connection) loads afterwards and says plainly when
Smart Assessor is not answering."""

import socket
import time

import pytest
import responses
from django.urls import reverse

from smartassessor.models import ReviewTypeMapping
from tests.factories import ReviewTypeFactory

from .client import wire

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sa_unreachable(sa_settings):
    """The integration switched on, pointed at a port nobody listens on."""
    sa_settings.base_url = f"http://127.0.0.1:{_closed_port()}"
    sa_settings.save()
    return sa_settings


def test_the_summary_renders_without_asking_smart_assessor(sa_settings, admin_client_ia):
    ReviewTypeMapping.objects.create(event_type_code="PR", review_type=ReviewTypeFactory())
    # No URL is registered: any call to Smart Assessor while rendering would be recorded.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        response = admin_client_ia.get(reverse("smartassessor:summary"))

    assert len(mock.calls) == 0, [call.request.url for call in mock.calls]
    assert response.status_code == 200
    page = response.content.decode()
    panel = reverse("smartassessor:review_mapping_panel")
    assert f'hx-get="{panel}" hx-trigger="load"' in page
    assert "Reading Smart Assessor's event types" in page


def test_the_summary_is_fast_while_smart_assessor_is_unreachable(sa_unreachable, admin_client_ia):
    admin_client_ia.get(reverse("smartassessor:summary"))  # templates compiled, caches warm
    started = time.perf_counter()
    response = admin_client_ia.get(reverse("smartassessor:summary"))
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed < 1.0, f"the Summary took {elapsed:.2f} s"


def test_the_mapping_part_says_smart_assessor_is_not_answering(sa_unreachable, admin_client_ia):
    started = time.perf_counter()
    response = admin_client_ia.get(reverse("smartassessor:review_mapping_panel"), headers=HTMX)
    elapsed = time.perf_counter() - started

    page = response.content.decode()
    assert response.status_code == 200
    assert "Smart Assessor is not answering." in page
    assert "Save mapping" not in page
    assert 'id="unmapped-note" hx-swap-oob="true" hidden' in page
    assert elapsed < 4.0, f"the mapping part took {elapsed:.2f} s"


def test_a_refusal_is_not_called_not_answering(sa_http, admin_client_ia):
    sa_http.get(wire.API + "/event-types", status=403, json=wire.errors("forbidden", "No access"))

    page = admin_client_ia.get(
        reverse("smartassessor:review_mapping_panel"), headers=HTMX
    ).content.decode()

    assert "The event types could not be read from Smart Assessor:" in page
    assert "not answering" not in page


def test_the_mapping_part_is_a_page_of_its_own_without_htmx(sa_http, admin_client_ia):
    sa_http.get(wire.API + "/event-types", json={"Items": [{"Code": "PR", "Name": "Review"}]})

    page = admin_client_ia.get(reverse("smartassessor:review_mapping_panel")).content.decode()

    assert '<h1 id="mapping-title">Review type mapping</h1>' in page
    assert "Review (PR)" in page and "Save mapping" in page
    assert "hx-swap-oob" not in page


def test_test_connection_says_smart_assessor_is_not_answering(sa_unreachable, admin_client_ia):
    response = admin_client_ia.post(reverse("smartassessor:test_connection"), headers=HTMX)

    page = response.content.decode()
    assert "Smart Assessor is not answering." in page
    assert "Could not reach Smart Assessor at http://127.0.0.1:" in page


def test_the_mapping_part_is_only_for_integration_admins(staff_client):
    response = staff_client.get(reverse("smartassessor:review_mapping_panel"))
    assert response.status_code == 403
