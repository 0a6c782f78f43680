"""Change points of the experiments a flow just ran, stored and published as Prefect artifacts.

The scheduled deployments (guide-baseline-nightly, scale-out-weekly) end with this, so
their flow run's page shows whether the history has shifted: a table of the change points
and the trend chart with them marked (kafkalab check does the same from the command line).
A failure here is logged, never the flow's: the runs are stored already.
"""

from __future__ import annotations

import base64

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact

from kafkalab.analysis import changepoints
from kafkalab.core.errors import KafkalabError
from kafkalab.reports.trend_charts import trend_with_change_points
from kafkalab.results.store import Store
from tasks import kafkalab_task


@kafkalab_task(name="change points")
def publish_change_points(experiments: list[str] | None = None, sweep_id: int | None = None) -> None:
    """Analyse, store and publish the change points of `experiments` (and of the sweep's experiments)."""
    logger = get_run_logger()
    try:
        with Store() as store:
            names = list(experiments or [])
            if sweep_id is not None:
                _, rows = store.query("SELECT DISTINCT e.name FROM runs r JOIN experiments e ON e.id = r.experiment_id"
                                      " WHERE r.sweep_id = :id ORDER BY 1", {"id": sweep_id})
                names += [row[0] for row in rows]
            for name in names:
                try:
                    analysis = changepoints.analyse(store, name)
                except KafkalabError as exc:  # e.g. no measured run: nothing to publish
                    logger.warning("change points of %s: %s", name, exc)
                    continue
                changepoints.save(store, analysis)
                create_markdown_artifact(key=_key(name), markdown=_markdown(analysis),
                                         description=f"Change points of experiment **{name}**")
                logger.info("%s", analysis.message())
    except Exception as exc:  # noqa: BLE001 - the runs are stored; a missing artifact is no failed flow
        logger.warning("change points not published: %s: %s", type(exc).__name__, exc)


def _markdown(analysis: changepoints.Analysis) -> str:
    verdict = "**REGRESSION**" if analysis.regression else "ok"
    lines = [f"**{analysis.experiment}**: {verdict}", "", "```", analysis.message(), "```"]
    if analysis.change_points:
        lines += ["", "| series | first run after | when | before | after | change | p |",
                  "|---|---:|---|---:|---:|---:|---:|"]
        for c in sorted(analysis.change_points, key=lambda c: c.started_at):
            d = c.detected
            lines.append(f"| {changepoints.METRICS[c.metric][0]} | {c.run_id} | {c.started_at:%Y-%m-%d %H:%M} | "
                         f"{d.mean_before:,.1f} | {d.mean_after:,.1f} | {d.change_share:+.1%} | {d.pvalue:.2g} |")
    png = trend_with_change_points(analysis)
    if png is not None:
        lines += ["", f"![trend](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"]
    return "\n".join(lines)


def _key(name: str) -> str:
    # Artifact keys allow lower-case letters, digits and dashes only.
    return "change-points-" + "".join(c if c.isalnum() else "-" for c in name.lower())
