from django.apps import AppConfig


class SmartAssessorConfig(AppConfig):
    name = "smartassessor"
    verbose_name = "Smart Assessor integration"

    def ready(self) -> None:
        from learners import extensions

        from . import panels
        from .services import pushes  # noqa: F401  (its receivers of the domain's saves)

        extensions.register("learner_panel_foot", panels.learner_panel)
        extensions.register("learner_list_actions", panels.learner_list_actions)
        extensions.register("officer_page", panels.officer_panel)
        extensions.register("organisation_page", panels.organisation_panel)
