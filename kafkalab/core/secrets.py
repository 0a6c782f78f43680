"""Secret references: a spec names where a secret lives, never the secret itself.

Specs are stored with every run (PostgreSQL, Prefect parameters, artifacts), so a password
written into one would end up in all of them. A spec says `env:KAFKA_PASSWORD` (an
environment variable of the process that runs the flow) or `prefect-secret:kafka-password`
(a Prefect Secret block); the value is read only when the cluster is built and lives in
memory and in files readable by the user only.

The engine knows no Prefect: the flows register the `prefect-secret` resolver.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from kafkalab.core.errors import KafkalabError

Resolver = Callable[[str], str]

_REFERENCE = re.compile(r"^(?P<scheme>[a-z][a-z-]*):(?P<name>[A-Za-z0-9_.\-/]{1,200})$")
SCHEMES = ("env", "prefect-secret")


class SecretError(KafkalabError):
    """A secret reference that does not resolve: the message names the field and the reference."""


def _from_environment(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise LookupError(f"environment variable {name} is not set")
    return value


_resolvers: dict[str, Resolver] = {"env": _from_environment}


def register_resolver(scheme: str, resolver: Resolver) -> None:
    """Install the resolver for one scheme (the flows install `prefect-secret`)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown secret scheme {scheme!r}")
    _resolvers[scheme] = resolver


def check_reference(text: str) -> str:
    """Validate the form of a reference (spec validation); the value is not looked up here."""
    match = _REFERENCE.match(text)
    if match is None or match["scheme"] not in SCHEMES:
        raise ValueError(
            "must be a reference, env:VARIABLE or prefect-secret:BLOCK_NAME "
            "(a password written into the spec would be stored with every run)"
        )
    return text


def resolve(reference: str, field: str) -> str:
    """The secret's value, or a one-line SecretError naming `field` and the reference."""
    check_reference(reference)
    scheme, name = reference.split(":", 1)
    resolver = _resolvers.get(scheme)
    if resolver is None:
        raise SecretError(f"{field}: {scheme}: references are resolved only when kafkalab runs as a Prefect flow")
    try:
        value = resolver(name)
    except Exception as exc:  # noqa: BLE001 - any lookup failure becomes the one-line message
        raise SecretError(f"{field}: {reference} does not resolve: {_one_line(exc)}") from None
    if not value:
        raise SecretError(f"{field}: {reference} is empty")
    return value


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
