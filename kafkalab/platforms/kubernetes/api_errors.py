"""The API server's refusals as one line."""

from __future__ import annotations

import json

from kubernetes.client.exceptions import ApiException


def api_error(exc: ApiException) -> str:
    """The API server's own message (one line), not the whole HTTP dump."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return (message or f"{exc.status} {exc.reason}").replace("\n", " ")
