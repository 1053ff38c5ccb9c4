import pytest

from picsweb import roles


@pytest.mark.parametrize(
    ("user_fixture", "enrol", "set_id", "manage", "reconcile"),
    [
        ("staff_user", True, False, False, False),
        ("support_user", True, True, False, True),
        ("admin_user", True, False, True, True),
    ],
)
def test_each_role_has_the_rights_of_the_spec(
    request, user_fixture, enrol, set_id, manage, reconcile
):
    user = request.getfixturevalue(user_fixture)
    assert user.has_perm(roles.ENROL) is enrol
    assert user.has_perm(roles.SET_LEARNER_SA_ID) is set_id
    assert user.has_perm(roles.MANAGE_INTEGRATION) is manage
    # The report: Support links learners from it, Integration admins employers and assessors.
    assert user.has_perm(roles.RECONCILE) is reconcile
    assert user.has_perm("learners.change_learner")
    assert user.has_perm("learners.add_learnerqualification")


def test_staff_user_cannot_reach_the_admin(staff_client):
    assert staff_client.get("/admin/").status_code == 403
    assert staff_client.get("/admin/learners/learner/").status_code == 403


def test_integration_admin_reaches_the_admin(admin_client_ia):
    assert admin_client_ia.get("/admin/").status_code == 200


def test_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/?next=")
