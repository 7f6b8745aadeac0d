"""Ladder's dashboard: server-rendered pages for finance and reviewers, beside ``api/``.

Pages read the same services as the ``/v1`` routes and are guarded by the same
role matrix (``api.roles``); every headline figure names the ``/v1`` call and the
JSON field that serve it. ``api.app.create_app`` mounts it (``install_dashboard``).
"""

from dashboard.app import install_dashboard

__all__ = ["install_dashboard"]
