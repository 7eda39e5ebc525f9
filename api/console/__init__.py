"""The web console: pages for managers, compliance and analysts, in the API's own app.

Signed in with an API key (then a session cookie, ``api.console.session``), each page shows
only what the key's role may read, through the same checks and queries as the API. Forms
that write carry a token against cross-site requests and go through the same command path.
Every error the API can return is shown as a page that says what was wrong and where.

A module per page: ``signin``, ``customers``, ``dossier`` (and hand-over), ``duplicates``,
``compliance`` (and the access log), ``service``, ``events`` (and their registrations),
``reports``, ``admin`` (keys); what they share is in ``pages``, and the work they run apart
from a request in ``jobs``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.console import (
    admin,
    compliance,
    customers,
    dossier,
    duplicates,
    events,
    reports,
    service,
    signin,
)
from api.console.jobs import ReportJobs
from api.console.pages import HERE, SignInNeeded, error_page

__all__ = ["error_page", "install"]
PAGES = (signin, customers, dossier, duplicates, compliance, service, events, reports, admin)


def install(app: FastAPI) -> None:
    """Add the console's pages to the app, with what they keep for it (``app.state``): the
    report jobs and the compliance board's first page of violations."""
    for module in PAGES:
        app.include_router(module.router)
    app.state.report_jobs = ReportJobs()
    app.state.first_violations = compliance.first_violations()
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    async def sign_in_first(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInNeeded)
        return RedirectResponse(f"/console/signin?{urlencode({'next': error.back})}", 303)

    app.add_exception_handler(SignInNeeded, sign_in_first)
