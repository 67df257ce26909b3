"""Server-rendered pages for export jobs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from exports.models import ExportJob


@login_required
def export_list(request):
    jobs = ExportJob.objects.filter(owner=request.user).select_related("project", "game")[:200]
    return render(request, "exports/list.html", {"jobs": jobs})
