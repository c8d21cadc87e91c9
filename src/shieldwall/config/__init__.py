"""Configuration: ``shieldwall.yaml``, ``SHIELDWALL_*`` variables and flags, with the origin of each value."""

from shieldwall.config.load import Origin, Settings, find_config_file, find_exceptions_file, load_settings
from shieldwall.config.model import ShieldwallConfig
from shieldwall.config.sections import LicenseSection, SectionModel, register_section

__all__ = [
    "LicenseSection",
    "Origin",
    "SectionModel",
    "Settings",
    "ShieldwallConfig",
    "find_config_file",
    "find_exceptions_file",
    "load_settings",
    "register_section",
]
