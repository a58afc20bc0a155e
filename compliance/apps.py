from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    """The project package doubles as an app for cross-cutting pieces with models: API tokens."""

    name = "compliance"
    verbose_name = "API access"

    def ready(self):
        from compliance import freshness

        freshness.connect()
