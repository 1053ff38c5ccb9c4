"""Once made the three roles; ``picsweb.roles`` now defines and makes them after every migrate.

Kept, doing nothing, so that databases which applied it keep a valid migration history.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("smartassessor", "0001_initial"),
        ("learners", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
