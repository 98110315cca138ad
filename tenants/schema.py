"""OpenAPI description of the service-token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.ServiceTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A tenant service token: `Authorization: Bearer mlp_xxxxxxxx_<secret>`.",
        }
