"""``[plugins.templates]``: where the template declarations live."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

__all__ = ["TemplatesConfig"]


class TemplatesConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.templates]``: every key is optional."""

    dir: Annotated[
        str,
        Meta(
            min_length=1,
            description="The folder of template files (<name>.toml or <name>.json) and of the "
            "snapshot of the last pull (.pulled.json), relative to the configuration file.",
        ),
    ] = "templates"
    check_sends: Annotated[
        bool,
        Meta(
            description="Check every template send against the snapshot of the last pull "
            "(when there is one) before any request; false checks only sends wrapped in "
            "checked().",
        ),
    ] = True

    def directory(self, base_dir: Path) -> Path:
        """:attr:`dir` resolved against the configuration file's folder."""
        return base_dir / self.dir
