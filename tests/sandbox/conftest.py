import pytest

from sandbox.control import SandboxControl

from .helpers import SandboxApi


@pytest.fixture
def api(sandbox: SandboxControl) -> SandboxApi:
    """An authenticated client of a freshly reset sandbox, without its rate limit (the rate
    limit has tests of its own)."""
    sandbox.faults(RateLimitPerSecond=None)
    return SandboxApi(sandbox).authenticate()
