"""Admin pages that are not a model's changelist (the import page, the To-do page), added to the default admin
site without a custom AdminSite class and without proxy models (which would need migrations).

`add_page()` records a page; the first call wraps two methods of `admin.site`:

- `get_urls`: the pages' URLs come first, under the site's `admin_view` (login, staff, CSRF, no caching), named
  `admin:<name>`. `compliance/urls.py` reads `admin.site.urls` after the admin modules are imported (autodiscover
  runs when the apps are ready), so the wrapped method is the one used.
- `get_app_list`: each page the user may see is listed among the app's models, so it shows on the admin index,
  the app index and in the navigation sidebar, with a "View" link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.urls import path, reverse


@dataclass(frozen=True)
class Page:
    route: str  # relative to the admin root, e.g. "agreements/import-violations/"
    view: Callable
    name: str  # URL name within the admin namespace
    title: str = ""  # listed under the app when given
    app_label: str = "agreements"
    permission: str = ""  # who sees the link ("app.codename"); the view checks permissions itself


_pages: list[Page] = []


def add_page(route: str, view: Callable, name: str, *, title: str = "", permission: str = "", site=admin.site):
    _pages.append(Page(route, view, name, title, permission=permission))
    _install(site)


def _install(site) -> None:
    if getattr(site, "_agreements_pages_installed", False):
        return
    site._agreements_pages_installed = True
    get_urls, get_app_list = site.get_urls, site.get_app_list

    def get_urls_with_pages():
        return [path(page.route, site.admin_view(page.view), name=page.name) for page in _pages] + get_urls()

    def get_app_list_with_pages(request, app_label=None):
        app_list = get_app_list(request, app_label)
        for app in app_list:
            for page in _pages:
                if not page.title or page.app_label != app["app_label"]:
                    continue
                if page.permission and not request.user.has_perm(page.permission):
                    continue
                app["models"].append(
                    {
                        "name": page.title,
                        "object_name": page.name,
                        "model": None,
                        "perms": {"view": True},
                        "admin_url": reverse(f"{site.name}:{page.name}", current_app=site.name),
                        "add_url": None,
                        "view_only": True,
                    }
                )
        return app_list

    site.get_urls = get_urls_with_pages
    site.get_app_list = get_app_list_with_pages
