"""Authentication backends of the product."""

from axes.backends import AxesStandaloneBackend


class SignInThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check for sign-ins over HTTP.

    Every sign-in page passes the request; an ``authenticate()`` without one (a management
    command, the test client's ``login()``) has no address to count against, so it is left to
    the next backend instead of failing as django-axes' own backend does.
    """

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
