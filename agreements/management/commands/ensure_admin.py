import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the superuser for the demo if missing. Password from DJANGO_SUPERUSER_PASSWORD, else generated and "
        "printed once. With the variable set, an existing user's password is reset to it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin"))
        parser.add_argument("--email", default=os.environ.get("DJANGO_SUPERUSER_EMAIL", "admin@example.org"))

    def handle(self, *args, username, email, **options):
        User = get_user_model()
        given = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        user = User.objects.filter(username=username).first()
        if user is not None and not given:
            self.stdout.write(
                f"Admin user '{username}' exists; password unchanged (set DJANGO_SUPERUSER_PASSWORD to reset it)."
            )
            return
        password = given or secrets.token_urlsafe(12)
        if user is None:
            user = User.objects.create_superuser(username=username, email=email, password=password)
        else:
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save()
        user.groups.add(*Group.objects.filter(name="admin"))
        if given:
            self.stdout.write(f"Admin user '{username}' ready (password from DJANGO_SUPERUSER_PASSWORD).")
        else:
            self.stdout.write(self.style.WARNING(f"Admin user '{username}' created with password: {password}"))
