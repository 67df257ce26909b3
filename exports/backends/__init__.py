"""Where a job renders: ``local`` (in the qcluster worker) or ``modal`` (a GPU container).

A backend is a small object (``exports.backends.base.ExportBackend``):

- ``start(job)``: hand a pending job to a worker (called after the commit that created it);
- ``execute(job, *, workdir, progress)``: in the worker, after the claim, produce the
  rendered files (a ``RenderOutput`` in ``workdir``, verified and stored by the runner);
- ``cancel(job)``: stop a running job now if the backend can (the local backend's worker
  notices ``cancel_requested_at`` by itself);
- ``check(job)``: for the reaper, whether a job with a stale heartbeat is still alive:
  True / False, or None for "cannot tell, trust the heartbeat".
"""

from __future__ import annotations

from django.conf import settings

from exports.backends.base import ExportBackend


def default_backend_name() -> str:
    return "modal" if settings.MODAL_ENABLED else "local"


def get_backend(name: str | None = None) -> ExportBackend:
    """The backend called ``name`` (default: the one MODAL_ENABLED selects for new jobs)."""
    name = name or default_backend_name()
    if name == "modal":
        from exports.backends.modal import ModalBackend  # added with the Modal work

        return ModalBackend()
    from exports.backends.local import LocalBackend

    return LocalBackend()


__all__ = ["ExportBackend", "default_backend_name", "get_backend"]
