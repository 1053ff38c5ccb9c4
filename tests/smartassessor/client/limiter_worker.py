"""A worker process for the shared rate-limit test: N calls through ``client_from_settings``.

The account comes from SA_* environment variables in an unsaved settings record, so the worker
needs Django's settings and cache (``CACHE_URL``) but no database.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import django

django.setup()

from smartassessor.connection import client_from_settings  # noqa: E402
from smartassessor.models import IntegrationSettings  # noqa: E402

record = IntegrationSettings(
    base_url=os.environ["SA_BASE_URL"],
    username=os.environ["SA_USERNAME"],
    password=os.environ["SA_PASSWORD"],
    client_key=os.environ["SA_CLIENT_KEY"],
    requests_per_second=float(os.environ["SA_REQUESTS_PER_SECOND"]),
)
client = client_from_settings(record)
calls = int(os.environ["SA_CALLS"])
for _ in range(calls):
    client.event_type_list()
print(f"{calls} calls")
