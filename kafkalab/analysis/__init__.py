"""Questions asked of stored runs: capacity under a latency objective (slo, capacity),
comparisons with confidence (compare), the run-to-run noise floor (noise) and change points
over an experiment's history (changepoints). Reads results; no Prefect here.
"""
