"""Where the project and its zappa_settings.json are, and a Zappa stage as Zappa itself reads it."""

import os
from pathlib import Path

from zappa.cli import ZappaCLI

PROJECT_DIR = Path(__file__).resolve().parents[2]
SETTINGS_FILE = PROJECT_DIR / "zappa_settings.json"


def zappa_stage(stage: str, settings_file: Path = SETTINGS_FILE):
    """Zappa's own reading of the stage (extends resolved) and the zappa_settings.py it would generate."""
    cli = ZappaCLI()
    cli.api_stage = stage
    cwd = os.getcwd()
    os.chdir(PROJECT_DIR)  # attach_policy and other file settings are relative to the project
    try:
        cli.load_settings(str(settings_file))
    finally:
        os.chdir(cwd)
    return cli, cli.get_zappa_settings_string()
