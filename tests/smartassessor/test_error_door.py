"""Smart Assessor's refusals reach the pages through the services as the product's errors, with
the messages the pages showed when the views caught the client's errors themselves."""

import pytest
from django.urls import reverse

from smartassessor.errors import SmartAssessorNotFound, SmartAssessorRefused
from smartassessor.linked_records import EMPLOYER
from smartassessor.services import learner_sa_id, links
from tests.factories import OfficerFactory

from .client import wire

pytestmark = pytest.mark.django_db


def test_a_refused_search_shows_on_the_look_up_window(admin_client_ia, sa_http):
    sa_http.get(wire.API + "/assessors", status=403, json=wire.errors("forbidden", "No access"))
    officer = OfficerFactory()

    response = admin_client_ia.get(reverse("smartassessor:officer_lookup", args=[officer.pk]))

    assert response.status_code == 200
    assert "Smart Assessor could not be searched:" in response.content.decode()
    assert "No access" in response.content.decode()


def test_refused_event_types_show_on_the_summary(admin_client_ia, sa_http):
    sa_http.get(wire.API + "/event-types", status=403, json=wire.errors("forbidden", "No access"))

    response = admin_client_ia.get(reverse("smartassessor:review_mapping_panel"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "The event types could not be read from Smart Assessor:" in page
    assert "No access" in page


def test_the_services_raise_the_products_errors(sa_http):
    sa_http.get(wire.API + "/employers", status=403, json=wire.errors("forbidden", "No access"))
    sa_http.get(wire.API + "/learners/abc", status=404, json=wire.errors("not_found", "Gone"))

    with pytest.raises(SmartAssessorRefused, match="No access"):
        links.sa_records_search(kind=EMPLOYER, search=None, page=1, page_size=20)
    with pytest.raises(SmartAssessorNotFound, match="Smart Assessor has no learner with ID abc"):
        learner_sa_id.sa_learner_lookup(sa_learner_id="ABC")
