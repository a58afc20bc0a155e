"""API rate limits, counted in Django's cache (settings.CACHES) over a sliding window.

- `anon`: per client address, for requests without credentials and for failed token logins
  (`note_failed_authentication`), so guessing keys costs the guesser, not the database.
- `user`: per user, whichever of their tokens or their session they use.
- `write`: per user (or address) for unsafe methods, which cost more and are what a runaway script repeats.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (env API_THROTTLE_ANON, _USER, _WRITE). A refused request
is 429 in the usual error shape with `Retry-After` (compliance/api/errors.py, DRF's handler).
"""

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from compliance.security import client_ip


class _Throttle(SimpleRateThrottle):
    def get_rate(self):
        # DRF reads the rates once, at import; reading them per request lets settings overrides apply.
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if self.scope not in rates:
            raise ImproperlyConfigured(f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'] has no rate for '{self.scope}'.")
        return rates[self.scope]

    def get_ident(self, request):
        return client_ip(request)

    def key_for(self, ident) -> str:
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonThrottle(_Throttle):
    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.key_for(self.get_ident(request))


class UserThrottle(_Throttle):
    scope = "user"

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        return self.key_for(f"user-{request.user.pk}")


class WriteThrottle(_Throttle):
    scope = "write"

    def get_cache_key(self, request, view):
        if request.method in SAFE_METHODS:
            return None
        if request.user and request.user.is_authenticated:
            return self.key_for(f"user-{request.user.pk}")
        return self.key_for(self.get_ident(request))


class _FailedAuthenticationThrottle(AnonThrottle):
    """The anonymous budget of the client's address, without asking who the user is (they are being worked out)."""

    def get_cache_key(self, request, view):
        return self.key_for(self.get_ident(request))


def note_failed_authentication(request) -> None:
    """Spend one of the address's anonymous requests on a failed login; raise Throttled once none are left.

    DRF authenticates before it throttles, so without this a bad token is answered 401 however often it is sent.
    """
    throttle = _FailedAuthenticationThrottle()
    if not throttle.allow_request(request, None):
        raise exceptions.Throttled(wait=throttle.wait())
