"""The platforms a spec may name, each with the subpackage that implements it.

Adding a platform is its subpackage under kafkalab/platforms plus one line here; the spec's
`platform` field, its UI dropdown and the registry in kafkalab.platforms all read this.
"""

from __future__ import annotations

from typing import Literal

PLATFORMS = {
    "local": "kafkalab.platforms.local",
    "kubernetes": "kafkalab.platforms.kubernetes",
    "external": "kafkalab.platforms.external",
}

PlatformName = Literal[tuple(PLATFORMS)]  # type: ignore[valid-type]  # Literal["local", "kubernetes", ...]
