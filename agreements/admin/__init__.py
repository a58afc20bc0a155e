"""The monitors' workspace. Every save goes through agreements.services; nothing here deletes a violation."""

from agreements.admin import imports, reference, violations  # noqa: F401  (registers the ModelAdmins and pages)
