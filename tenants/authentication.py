"""``Authorization: Bearer <token>`` for service tokens.

A token reads ``mlp_<8 characters>_<secret>``; the first 12 characters are its visible prefix,
which is stored in the clear to find the row, and the whole token is compared by SHA-256 hash.
A revoked, expired, malformed or unknown token is a 401.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions

from portal.core.errors import Unauthenticated
from tenants import services
from tenants.models import ServiceToken


class TokenPrincipal:
    """The caller behind a service token, standing where DRF expects ``request.user``."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    platform_role = ""
    pk = None
    id = None

    def __init__(self, token: ServiceToken) -> None:
        self.token = token
        self.token_prefix = token.prefix
        self.tenant_id = token.tenant_id
        self.username = f"token:{token.prefix}"

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


class ServiceTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as 'Authorization: Bearer <token>', with no spaces in the token."
            )
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        try:
            token = services.token_authenticate(raw=raw)
        except Unauthenticated as error:
            raise exceptions.AuthenticationFailed(error.detail) from None
        return TokenPrincipal(token), token

    def authenticate_header(self, request) -> str:
        return self.keyword
