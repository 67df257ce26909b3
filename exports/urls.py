from __future__ import annotations

from django.urls import path

from exports import views

app_name = "exports"
urlpatterns = [
    path("", views.export_list, name="list"),
    path("rows", views.export_rows, name="rows"),
]
