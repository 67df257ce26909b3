"""Django-free video toolkit: probing, running FFmpeg with progress and cancel, test media.

The same code runs in the web process, the django-q2 workers and the Modal
container, so nothing here may import Django.
"""
