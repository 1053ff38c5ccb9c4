"""Once granted Integration admins the integration's records; ``picsweb.roles`` now grants them.

Kept, doing nothing, so that databases which applied it keep a valid migration history.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("smartassessor", "0005_daily_sync_task")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
