"""Server-rendered pages for export jobs (actions go through the JSON API)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from exports.models import ExportJob

PAGE_LIMIT = 200


def _jobs(request: HttpRequest):
    return ExportJob.objects.filter(owner=request.user).select_related("project", "game")[
        :PAGE_LIMIT
    ]


@login_required
def export_list(request: HttpRequest) -> HttpResponse:
    return render(request, "exports/list.html", {"jobs": _jobs(request)})


@login_required
def export_rows(request: HttpRequest) -> HttpResponse:
    """The jobs table alone, re-fetched by the page when a job changes status."""
    return render(request, "exports/_job_table.html", {"jobs": _jobs(request)})
