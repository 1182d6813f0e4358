"""The customer-profile rules in force: from the configuration file, or as last set
through ``PUT /v1/config/customer-profile`` (kept in the state directory, so a restart
keeps what the retail platform pushed)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from posbridge._files import write_atomically
from posbridge.config import Config
from posbridge.scanning.rules import CustomerProfileConfig, ScanConfigError

__all__ = ["load_customer_profile", "save_customer_profile"]

FILE_NAME = "customer-profile.json"

log = logging.getLogger(__name__)


def load_customer_profile(config: Config, state_dir: Path) -> CustomerProfileConfig:
    """What was PUT last, else the configuration file's rules."""
    path = state_dir / FILE_NAME
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return CustomerProfileConfig.from_platform(saved)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, ScanConfigError) as exc:
        # A file we wrote ourselves no longer loads (an older version's rules a newer
        # translator refuses): the configuration file's rules are the safe fallback.
        log.warning(
            "ignoring %s (%s); using the configuration file's customer-profile rules", path, exc
        )
    return CustomerProfileConfig.from_platform(config.customer_profile.platform())


def save_customer_profile(state_dir: Path, profile: CustomerProfileConfig) -> None:
    """Write the rules atomically (the old file stays whole if we die midway)."""
    data = json.dumps(profile.to_platform(), ensure_ascii=False, indent=2)
    write_atomically(state_dir, FILE_NAME, data)
