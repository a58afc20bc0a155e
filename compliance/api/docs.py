"""The API's documentation pages, Swagger UI (/api/docs/) and Redoc (/api/redoc/), under the site's CSP.

Both load their code from our static files (drf-spectacular-sidecar) and nothing from other hosts. Swagger UI's
start-up script is served as a file of its own (the split view) rather than inline, so `script-src 'self'` holds.
"""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView


class SwaggerView(SpectacularSwaggerSplitView):
    template_name = "compliance/swagger_ui.html"

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if request.GET.get("script") is not None:
            # The script embeds the visitor's CSRF token: no other site may load it with <script src>.
            response["Cross-Origin-Resource-Policy"] = "same-origin"
        return response


# Redoc styles itself by inserting <style> elements at run time (styled-components), which only 'unsafe-inline'
# allows; its search runs in a Web Worker it builds from a blob: URL. Scripts stay 'self' only.
@method_decorator(csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["'self'", "blob:"]}), name="dispatch")
class RedocView(SpectacularRedocView):
    template_name = "compliance/redoc.html"
