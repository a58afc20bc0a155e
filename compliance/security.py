"""Rules shared by the settings, the API throttles and the admin's login lockout.

Imported by compliance/settings.py, so nothing here may need Django's apps or settings at import time.
"""

from __future__ import annotations

# The value .env.example ships with; tests/test_security.py checks that the file and this list agree.
PLACEHOLDER_SECRET_KEYS = frozenset({"change-me-to-a-long-random-string"})
# Words that mark a key copied from documentation rather than generated.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "example")
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5


def secret_key_problem(key: str) -> str | None:
    """Why `key` is unfit to sign production sessions and password-reset links, or None when it is fit.

    The length and variety thresholds are those of Django's own deploy check (security.W009), which only warns.
    """
    if not key:
        return "is missing"
    if key in PLACEHOLDER_SECRET_KEYS or any(marker in key.lower() for marker in PLACEHOLDER_MARKERS):
        return "is a placeholder from the documentation"
    if key.startswith("django-insecure"):
        return "is one of Django's generated development keys (it starts with 'django-insecure')"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"is {len(key)} characters long; it needs at least {SECRET_KEY_MIN_LENGTH}"
    if len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return f"has fewer than {SECRET_KEY_MIN_UNIQUE_CHARACTERS} different characters"
    return None


def client_ip(request) -> str | None:
    """The address of the client, for rate limits and login lockouts.

    X-Forwarded-For is written by whoever sends the request, so only the entries appended by our own proxies are
    believed: with TRUSTED_PROXY_COUNT = n, the n-th address from the right (what the outermost of our proxies
    saw). With 0, the default, the header is ignored and the socket's peer (REMOTE_ADDR) is the client; otherwise a
    client could pick a fresh address for every request and never be limited.
    """
    from django.conf import settings

    remote_addr = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote_addr
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote_addr
    return forwarded[-min(proxies, len(forwarded))]
