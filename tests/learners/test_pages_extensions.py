import pytest
from django.utils.html import format_html

from learners import extensions
from tests.factories import LearnerFactory, OfficerFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


def test_a_registered_renderer_fills_the_learner_panel_foot(staff_client):
    learner = LearnerFactory(first_name="Priya")
    seen = []

    def smart_assessor_block(request, obj):
        seen.append((request.user.username, obj))
        return format_html("<p>Portfolio of {}</p>", obj.first_name)

    with extensions.registered("learner_panel_foot", smart_assessor_block):
        page = staff_client.get(learner.get_absolute_url()).content.decode()
    after = staff_client.get(learner.get_absolute_url()).content.decode()

    assert '<div class="learner-panel__foot"><p>Portfolio of Priya</p></div>' in page
    assert seen == [("staff", learner)]
    assert "Portfolio of" not in after


@pytest.mark.parametrize(
    ("slot", "factory", "url"),
    [
        ("officer_page", OfficerFactory, "/officers/{pk}/"),
        ("organisation_page", OrganisationFactory, "/organisations/{pk}/"),
    ],
)
def test_officer_and_organisation_pages_have_their_slots(staff_client, slot, factory, url):
    record = factory()

    with extensions.registered(slot, lambda request, obj: f"<p>Linked record {obj.pk}</p>"):
        page = staff_client.get(url.format(pk=record.pk)).content.decode()

    assert f"<p>Linked record {record.pk}</p>" in page


def test_renderers_render_in_registration_order_and_empty_ones_add_nothing(rf):
    def first(request, obj):
        return "<b>1</b>"

    def second(request, obj):
        return "<b>2</b>"

    def nothing(request, obj):
        return ""

    with (
        extensions.registered("officer_page", first),
        extensions.registered("officer_page", nothing),
        extensions.registered("officer_page", second),
    ):
        html = extensions.render("officer_page", rf.get("/"), None)

    assert html.endswith("<b>1</b><b>2</b>")


def test_an_unknown_slot_is_refused():
    with pytest.raises(ValueError, match="There is no slot 'learner_panel_head'"):
        extensions.register("learner_panel_head", lambda request, obj: "")


def test_a_list_action_wraps_the_learner_list_in_a_form_with_checkboxes(staff_client):
    learner = LearnerFactory(first_name="Priya", surname="Shah")

    def bulk_enrol_button(request, obj):
        assert obj is None
        return '<button type="submit" formaction="/bulk-enrol/">Create in Smart Assessor</button>'

    with extensions.registered("learner_list_actions", bulk_enrol_button):
        page = staff_client.get("/learners/").content.decode()

    form = page.split('<form method="post" id="learner-actions"')[1].split("</form>")[0]
    assert 'name="csrfmiddlewaretoken"' in form
    assert f'<input type="checkbox" name="learners" value="{learner.ident}"' in form
    assert "Select Priya Shah</label>" in form
    assert 'formaction="/bulk-enrol/">Create in Smart Assessor</button>' in form


def test_a_list_action_that_renders_nothing_adds_no_checkboxes(staff_client):
    LearnerFactory()

    with extensions.registered("learner_list_actions", lambda request, obj: ""):
        page = staff_client.get("/learners/").content.decode()

    assert 'name="learners"' not in page
    assert 'id="learner-actions"' not in page
