from django.apps import AppConfig


class SmartAssessorConfig(AppConfig):
    name = "smartassessor"
    verbose_name = "Smart Assessor integration"
