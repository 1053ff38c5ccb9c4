"""The specification's own example file (Crown copyright, OGL v3, anonymised) imports."""

import re

import pytest

from imports import services
from imports.models import IlrImport, IlrImportedLearner, ImportAuditEntry, ImportState
from learners.models import (
    Learner,
    LearnerQualification,
    Organisation,
    Placement,
    QualificationStatus,
)

from .ilr_files import EXAMPLE

pytestmark = pytest.mark.django_db

# Three of the example's 19 learners break a rule: TLevelT's aims end before they start,
# ASFLearner's ULN fails its check digit, and MCALearner has ASLearner's ULN.
REFUSED = {"TLevelT": "LearnPlanEndDate_02", "ASFLearner": "ULN_04", "MCALearner": "MIS_ULNUnique"}


def test_the_file_holds_what_the_tests_count_on():
    text = EXAMPLE.read_text()
    assert text.count("<Learner>") == 19
    assert text.count("<LearningDelivery>") == 35


def test_the_example_previews_and_writes_nothing(catalogue):
    plan = services.plan(EXAMPLE)

    assert plan.summary()["learners"] == 19
    assert plan.deliveries == 35
    assert plan.counts == {"new": 16, "refused": 3}
    refused = {row.ref: row.reasons[0] for row in plan.rows if row.outcome == "refused"}
    assert {ref: reason.split(" ")[0] for ref, reason in refused.items()} == REFUSED
    assert re.search(r"\(line \d+\)", refused["ASFLearner"])
    # Counted by name, not lost silently: every learner's Ethnicity is ignored.
    assert plan.ignored["Ethnicity"] == 19
    assert not Learner.objects.exists()


def test_the_example_commits_and_a_second_import_changes_nothing(catalogue, admin_user):
    record = services.commit(EXAMPLE, user=admin_user, file_name=EXAMPLE.name)

    assert record.state == ImportState.COMMITTED
    assert record.counts["new"] == 16
    assert len(record.sha256) == 64
    assert Learner.objects.count() == 16
    # The 35 deliveries less TLevelT's 4 and ASFLearner's and MCALearner's 1 each, and the 3
    # ZPROG001 aims that are no apprenticeship standard (not in the catalogue).
    assert LearnerQualification.objects.count() == 35 - 6 - 3
    cl_learner = Learner.objects.get(ident="CLLearner")
    assert cl_learner.uln == ""  # the temporary 9999999999
    levy = Learner.objects.get(ident="Levy")
    assert levy.qualifications.filter(qualification__reference="ST0116").exists()
    assert (
        Learner.objects.get(ident="16Learner")
        .qualifications.filter(status=QualificationStatus.WITHDRAWN)
        .exists()
    )
    # EmpId 123456789 (ASLearner, OtherAdult) is one placeholder; 900271388 and 907173756 too.
    assert Organisation.objects.filter(postcode=services.PLACEHOLDER_POSTCODE).count() == 3
    assert Placement.objects.count() == 4
    assert IlrImportedLearner.objects.count() == 16
    assert ImportAuditEntry.objects.filter(action="ilr_import_committed").count() == 1

    before = list(Learner.objects.values_list("ident", "updated_at").order_by("ident"))
    again = services.commit(EXAMPLE, user=admin_user, file_name=EXAMPLE.name)

    assert again.counts["unchanged"] == 16
    assert again.counts["new"] == again.counts["changed"] == again.counts["conflict"] == 0
    assert list(Learner.objects.values_list("ident", "updated_at").order_by("ident")) == before
    assert LearnerQualification.objects.count() == 26
    assert Placement.objects.count() == 4
    assert IlrImport.objects.count() == 2
