"""Authentication backends of the product."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest


class SignInThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check for sign-ins over HTTP.

    Every sign-in page passes the request; an ``authenticate()`` without one (a management
    command, the test client's ``login()``) has no address to count against, so it is left to
    the next backend instead of failing as django-axes' own backend does.
    """

    def authenticate(
        self,
        request: HttpRequest | None = None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
