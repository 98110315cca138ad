"""Renderers for answers a view makes itself (files, streams): they only name a ``?format=``."""

from __future__ import annotations

from typing import Any

from rest_framework import renderers


class FileRenderer(renderers.BaseRenderer):
    """Passes the bytes (or the stream) a view made through; it names the ``?format=`` the view
    accepts and the media type of its answer."""

    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None):
        return data


class CsvRenderer(FileRenderer):
    media_type = "text/csv"
    format = "csv"


class FileViewMixin:
    """For a view whose ``renderer_classes`` are ``FileRenderer``s: its errors stay JSON of the
    API's one shape, whatever format was asked for."""

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(response, "exception", False):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
