#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "compliance.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    # Django defers a settings error so that `help` works, and a command then fails with whatever check happens to
    # run first ("Models aren't loaded yet" as often as not). Say what is actually wrong instead.
    try:
        _ = settings.INSTALLED_APPS  # reading a setting loads them all
    except ImproperlyConfigured as exc:
        sys.exit(f"manage.py: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
