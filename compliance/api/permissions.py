from rest_framework import exceptions, permissions


class RolePermission(permissions.DjangoModelPermissions):
    """Roles are groups with model permissions (agreements/migrations/0002_roles.py); this checks them per request.

    Reading needs the model's view permission; writing needs add/change/delete and a token that is not read-only.
    Object-level rules (a monitor edits only their own unverified violation) are asked of the view's object via
    `view.check_object_rule(request, obj)`, which calls the service that holds the rule.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view):
        # A method the view never allows is 405 for everyone, not 403 for those without the permission.
        if request.method.lower() not in view.http_method_names:
            raise exceptions.MethodNotAllowed(request.method)
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if request.method not in permissions.SAFE_METHODS and getattr(request.auth, "read_only", False):
            raise exceptions.PermissionDenied("This token is read-only.")
        required = getattr(view, "required_permissions", None)
        if required is not None:
            return request.user.has_perms(required)
        return super().has_permission(request, view)

    def has_object_permission(self, request, view, obj):
        rule = getattr(view, "check_object_rule", None)
        if rule is not None and request.method not in permissions.SAFE_METHODS:
            rule(request, obj)
        return True
