"""`Authorization: Token <key>` for dashboards and integrations. Keys are checked by `compliance.tokens`."""

from typing import NoReturn

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS

from compliance.api.throttling import note_failed_authentication
from compliance.tokens import token_authenticate


class TokenAuthentication(BaseAuthentication):
    """Authenticates `Authorization: Token <key>`; `request.auth` is then the `ApiToken`.

    No Authorization header, or another scheme: None, so the next authenticator (session) or anonymous applies.
    The scheme name is matched case-insensitively, as DRF's own TokenAuthentication does (RFC 9110 §11.1).
    A read-only token is refused for unsafe methods whatever the view's permissions say.
    Each failure spends one of the client address's anonymous requests (compliance/api/throttling.py): past the
    limit, the answer is 429 instead of 401.
    """

    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) == 1:
            self.fail(request, _("Invalid token header: no token given after 'Token'."))
        if len(parts) > 2:
            self.fail(request, _("Invalid token header: the token must not contain spaces."))
        try:
            key = parts[1].decode("ascii")
        except UnicodeError:
            self.fail(request, _("Invalid token header: the token contains invalid characters."))

        token = token_authenticate(key)
        if token is None:
            self.fail(request, _("Invalid or expired token."))
        if token.read_only and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(_("This token is read-only."))
        return token.user, token

    @staticmethod
    def fail(request, message) -> NoReturn:
        note_failed_authentication(request)
        raise exceptions.AuthenticationFailed(message)

    def authenticate_header(self, request):
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 to unauthenticated requests.
        return self.keyword


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "compliance.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token <key>",
        }
