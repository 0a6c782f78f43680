"""Prefect tasks: thin wrappers of engine steps that add retries, names, logs and artifacts.

Tasks hand live objects (a running cluster) to each other in-process, so they neither
cache nor persist results.
"""
