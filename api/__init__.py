"""Ladder's REST API: FastAPI under ``/v1``, thin over the executor's and reporting's services.

``api.app.create_app(settings)`` builds the application; ``api/README.md`` lists
the routes and which role may call each.
"""
