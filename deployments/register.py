"""Register kafkalab's deployments on the Prefect server at PREFECT_API_URL.

`kafkalab server up` runs this (it imports Prefect, so it stays out of the engine):

1. the process work pool (created, or its concurrency limit brought to --max-runs);
2. `prefect deploy --all` with deployments/prefect.yaml, from the project root;
3. schedules a user turned on (or off) keep that state: `prefect deploy` recreates each
   deployment's schedules from the file, where they are paused, so their `active` flags
   are read before and put back after, matched by deployment and schedule slug.

Prints one JSON document: the deployments with their ids and schedules.

    PREFECT_API_URL=http://127.0.0.1:4200/api .venv/bin/python deployments/register.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectNotFound
from prefect.workers.process import ProcessWorker

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent


async def ensure_pool(name: str, max_runs: int | None) -> str:
    async with get_client() as client:
        try:
            pool = await client.read_work_pool(name)
        except ObjectNotFound:
            await client.create_work_pool(
                WorkPoolCreate(
                    name=name, type="process", concurrency_limit=max_runs,
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                    description="kafkalab: flows run as processes on this machine; the concurrency limit keeps "
                    "load tests from sharing it.",
                )
            )
            return "created"
        if pool.concurrency_limit != max_runs:
            await client.update_work_pool(name, WorkPoolUpdate(concurrency_limit=max_runs))
            return "updated"
        return "exists"


async def deployments(pool: str) -> list[dict]:
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    async with get_client() as client:
        found = await client.read_deployments(work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])))
        flows = {}
        out = []
        for d in found:
            if d.flow_id not in flows:
                flows[d.flow_id] = (await client.read_flow(d.flow_id)).name
            out.append({
                "id": str(d.id), "name": f"{flows[d.flow_id]}/{d.name}", "paused": d.paused,
                "schedules": [{"id": str(s.id), "slug": s.slug, "active": s.active, "schedule": str(s.schedule)}
                              for s in d.schedules],
            })
        return sorted(out, key=lambda d: d["name"])


async def restore_schedules(before: list[dict], pool: str) -> list[str]:
    wanted = {(d["name"], s["slug"]): s["active"] for d in before for s in d["schedules"] if s["slug"]}
    restored = []
    async with get_client() as client:
        for d in await deployments(pool):
            for s in d["schedules"]:
                active = wanted.get((d["name"], s["slug"]))
                if active is not None and active != s["active"]:
                    await client.update_deployment_schedule(UUID(d["id"]), UUID(s["id"]), active=active)
                    restored.append(f"{d['name']}:{s['slug']}={'on' if active else 'off'}")
    return restored


async def register(pool: str, max_runs: int | None, prefect_file: Path) -> dict:
    pool_state = await ensure_pool(pool, max_runs)
    before = await deployments(pool)
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect), "--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file)]
    done = subprocess.run(command, cwd=PROJECT, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stdout + done.stderr)
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        return {"error": f"prefect deploy failed: {lines[-1] if lines else done.returncode}"}
    restored = await restore_schedules(before, pool)
    return {"pool": pool, "pool_state": pool_state, "restored_schedules": restored,
            "deployments": await deployments(pool)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", default="kafkalab-local")
    parser.add_argument("--max-runs", type=int, default=1, help="work pool concurrency limit (0: none)")
    parser.add_argument("--prefect-file", default=str(HERE / "prefect.yaml"))
    args = parser.parse_args()
    result = asyncio.run(register(args.pool, args.max_runs or None, Path(args.prefect_file).resolve()))
    print(json.dumps(result))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
