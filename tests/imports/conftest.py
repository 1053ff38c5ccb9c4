import re

import pytest

from tests.factories import QualificationFactory

from .ilr_files import EXAMPLE


@pytest.fixture
def catalogue(db):
    """Every aim of the example file in the catalogue, and the standards of its StdCodes 1 and
    28 (and so those of the generated files) as ST references."""
    aims = set(re.findall(r"<LearnAimRef>(\w+)</LearnAimRef>", EXAMPLE.read_text()))
    for aim in aims - {"ZPROG001"}:
        QualificationFactory(reference=aim, standard_code=None)
    QualificationFactory(reference="ST0001", standard_code=1)
    QualificationFactory(reference="ST0116", standard_code=28)


@pytest.fixture
def background(transactional_db):
    """The imports' background tasks run where they are queued, once the transaction commits
    (a real one: the test's database is not held in one), as a worker would run them."""
    from picsweb.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
