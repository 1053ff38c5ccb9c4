import os

import pytest

from tests.environment import CHROMIUM
from tests.smartassessor.conftest import fresh_smartassessor_client, sa_sandbox  # noqa: F401

# Playwright drives the live server from another thread than the test's event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, headless; the flags keep it off the (closed) network."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def eager_tasks():
    """Background tasks run at once in the web thread, so the page shows the outcome."""
    from picsweb.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(scope="session")
def base_url():
    """None: the tests go to ``live_server.url`` themselves. Defined here so pytest-playwright's
    own fallback (a session fixture written as a method, which pytest deprecates) is not used."""
    return None
