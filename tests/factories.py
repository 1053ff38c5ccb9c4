import datetime

import factory
from django.contrib.auth.models import Group, User

from learners import models
from picsweb import roles


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("demo-password-for-tests")

    @factory.post_generation
    def groups(self, create, names, **kwargs):
        if names and Group.objects.filter(name__in=names).count() < len(names):
            # A transactional test's flush may have removed them.
            roles.roles_ensure()
        for name in names or []:
            self.groups.add(Group.objects.get(name=name))


class OfficerRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.OfficerRole
        django_get_or_create = ["name"]

    name = "Assessor"


class OfficerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Officer

    title = "Ms"
    forenames = factory.Sequence(lambda n: f"Alex{n}")
    surname = factory.Sequence(lambda n: f"Morgan{n}")
    job_title = "Assessor"
    email = factory.LazyAttribute(lambda o: f"{o.forenames.lower()}@provider.example")


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Organisation

    name = factory.Sequence(lambda n: f"Employer {n} Ltd")
    address_line1 = "1 High Street"
    postcode = "S1 2AB"
    edrs_number = factory.Sequence(lambda n: f"{100000000 + n}")


class QualificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Qualification
        django_get_or_create = ["reference"]

    reference = factory.Sequence(lambda n: f"603/{n:04d}/1")
    title = factory.Sequence(lambda n: f"Apprenticeship Standard {n}")
    awarding_body = "City & Guilds"
    level = 3


class LearnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Learner

    ident = factory.Sequence(lambda n: f"L{n:06d}")
    lrn = factory.Sequence(lambda n: f"LRN{n:06d}")
    first_name = factory.Sequence(lambda n: f"Sam{n}")
    surname = factory.Sequence(lambda n: f"Taylor{n}")
    date_of_birth = datetime.date(2000, 5, 17)
    email = factory.LazyAttribute(lambda o: f"{o.ident.lower()}@learner.example")
    postcode = "LS1 4AP"
    start_date = datetime.date(2026, 9, 1)
    planned_end_date = datetime.date(2028, 3, 1)
    main_officer = factory.SubFactory(OfficerFactory)


class PlacementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Placement

    learner = factory.SubFactory(LearnerFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    start_date = datetime.date(2026, 9, 1)


class LearnerQualificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.LearnerQualification

    learner = factory.SubFactory(LearnerFactory)
    qualification = factory.SubFactory(QualificationFactory)
    start_date = datetime.date(2026, 9, 1)
    planned_end_date = datetime.date(2028, 3, 1)


class BreakInLearningFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.BreakInLearning

    learner_qualification = factory.SubFactory(LearnerQualificationFactory)
    start_date = datetime.date(2026, 10, 5)


class ReviewTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ReviewType
        django_get_or_create = ["name"]

    name = "Progress Review"


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Review

    learner = factory.SubFactory(LearnerFactory)
    review_type = factory.SubFactory(ReviewTypeFactory)
    proposed_at = datetime.datetime(2026, 10, 5, 10, 0, tzinfo=datetime.UTC)
    reviewer = factory.SubFactory(OfficerFactory)
