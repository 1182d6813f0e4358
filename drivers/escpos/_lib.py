"""The single place python-escpos is imported from.

python-escpos makes a fresh temporary directory for its pickled capability database on
every import unless ``ESCPOS_CAPABILITIES_PICKLE_DIR`` names an existing directory, which
leaks a directory per process on a long-running store box. Point it at a cache directory
first, then import.
"""

from __future__ import annotations

import os
from pathlib import Path


def _prepare_cache_dir() -> None:
    if os.environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR"):
        Path(os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"]).mkdir(parents=True, exist_ok=True)
        return
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    cache = Path(base) / "posbridge" / "escpos"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(cache)


_prepare_cache_dir()

from escpos import constants as escpos_constants  # noqa: E402
from escpos import exceptions as escpos_exceptions  # noqa: E402
from escpos import printer as escpos_printer  # noqa: E402
from escpos.capabilities import CAPABILITIES as ESCPOS_CAPABILITIES  # noqa: E402
from escpos.capabilities import NotSupported as EscposNotSupported  # noqa: E402
from escpos.capabilities import Profile as EscposProfile  # noqa: E402
from escpos.capabilities import get_profile  # noqa: E402
from escpos.magicencode import Encoder as EscposTextEncoder  # noqa: E402
from escpos.magicencode import MagicEncode as EscposMagicEncode  # noqa: E402

__all__ = [
    "ESCPOS_CAPABILITIES",
    "EscposNotSupported",
    "EscposProfile",
    "EscposMagicEncode",
    "EscposTextEncoder",
    "escpos_constants",
    "escpos_exceptions",
    "escpos_printer",
    "get_profile",
]
