"""On SQLite the learner search looks its terms up in an FTS5 trigram index kept by triggers,
which is made again after a migrate that lost it.

Not named test_*.py: the suite runs on PostgreSQL where it can, so test_search_index.py runs
these in a pytest of their own on SQLite, whatever database the suite has."""

import pytest
from django.core.management import call_command
from django.db import connection

from learners import search_index, selectors
from learners.models import Learner
from tests.factories import LearnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def on_sqlite():
    assert connection.vendor == "sqlite", "run by tests/learners/test_search_index.py"


def found(text: str) -> set[str]:
    return set(selectors.learner_list(search=text).values_list("ident", flat=True))


def indexed() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT rowid FROM {search_index.TABLE}")
        return {rowid for (rowid,) in cursor.fetchall()}


def test_the_index_follows_each_learner_added_changed_and_deleted():
    learner = LearnerFactory(ident="IX1", first_name="Olivia", surname="Hughes")
    assert found("ughe") == {"IX1"}

    Learner.objects.filter(pk=learner.pk).update(surname="Vaughan")
    assert found("ughe") == set()
    assert found("vaug") == {"IX1"}

    learner.delete()
    assert found("vaug") == set()
    assert indexed() == set()


def test_a_search_uses_the_index_for_its_long_terms_and_matches_its_short_ones_as_well():
    LearnerFactory(ident="IX1", first_name="Al", surname="Hughes")
    LearnerFactory(ident="IX2", first_name="Bo", surname="Hughes")

    sql = str(selectors.learner_list(search="hughes al").query)

    assert search_index.TABLE in sql
    assert found("hughes al") == {"IX1"}
    # A term the index cannot look up alone reads the list.
    assert search_index.TABLE not in str(selectors.learner_list(search="al").query)
    assert found("al") == {"IX1"}


def test_quotes_in_a_term_are_searched_for_not_obeyed():
    LearnerFactory(ident="IX1", surname="O'Brien")

    assert found("o'bri") == {"IX1"}
    assert found('"bri') == set()


def test_a_migrate_makes_a_lost_index_again_and_fills_it(transactional_db):
    learners = LearnerFactory.create_batch(3, surname="Hughes")
    # What Django's remaking of the learner table does to the triggers, and worse.
    with connection.cursor() as cursor:
        for name in ("insert", "update", "delete"):
            cursor.execute(f"DROP TRIGGER {search_index.TABLE}_{name}")
        cursor.execute(f"DELETE FROM {search_index.TABLE}")

    call_command("migrate", verbosity=0)

    assert indexed() == {learner.pk for learner in learners}
    assert search_index.index_ensure() is False
    LearnerFactory(ident="IX9", surname="Hughes")
    assert "IX9" in found("hughes")
