"""Links from stored runs to their flow runs in the Prefect UI.

The UI address comes from the environment (PREFECT_UI_URL, else PREFECT_API_URL without
its /api) or from the server `kafkalab server up` started; which runs it knows is asked
through Prefect's client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from kafkalab.app import server
from kafkalab.reports.summary import flow_run_url


def ui_url(env: Mapping[str, str] | None = None) -> str | None:
    """The Prefect UI of the configured server, or None (ephemeral runs have no UI to link to)."""
    env = os.environ if env is None else env
    explicit = (env.get("PREFECT_UI_URL") or "").strip()
    if explicit:
        return explicit.rstrip("/")
    api = (env.get("PREFECT_API_URL") or "").strip().rstrip("/")
    if api:
        return api[: -len("/api")] if api.endswith("/api") else api
    state = server.running_state()
    return state.ui_url if state else None


def api_url(env: Mapping[str, str] | None = None) -> str | None:
    """The Prefect API runs are recorded on: PREFECT_API_URL, else the `kafkalab server up` one."""
    env = os.environ if env is None else env
    explicit = (env.get("PREFECT_API_URL") or "").strip().rstrip("/")
    if explicit:
        return explicit
    state = server.running_state()
    return state.api_url if state else None


def flow_run_links(flow_run_ids: Sequence[str | None], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """flow run id -> its page in the UI, for the runs the configured server knows.

    Runs made with an ephemeral API (`kafkalab run` without a server) have ids no server
    knows; they get no link rather than a dead one. With only PREFECT_UI_URL set (no API
    to ask), every id gets a link.
    """
    base = ui_url(env)
    ids = sorted({str(i) for i in flow_run_ids if i})
    if not base or not ids:
        return {}
    api = api_url(env)
    if api:
        ids = _known_flow_runs(api, ids)
    return {i: flow_run_url(i, base) for i in ids}


def _known_flow_runs(api: str, ids: list[str]) -> list[str]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    try:
        with server.client(api) as client:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids))
    except Exception:  # noqa: BLE001 - the server does not answer: no links rather than guesses
        return []
    return [str(run.id) for run in runs]
