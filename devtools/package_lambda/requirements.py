"""`name==version` pins read from requirement lines, keyed by PEP 503 normalized name."""

import re


def requirement_pins(lines: list[str]) -> dict[str, str]:
    """`name==version` lines as {normalized name: version} (PEP 503 names; other lines are skipped)."""
    pins = {}
    for line in lines:
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[normalized_name(name)] = version.strip()
    return pins


def normalized_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip()).lower()
