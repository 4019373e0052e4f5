"""What an HTML page loads and runs: the stylesheets and scripts it links, and anything inline that a
Content-Security-Policy without 'unsafe-inline' would block. Shared by the header, server, Lambda package
and browser tests."""

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# A content-hashed name as ManifestStaticFilesStorage writes it: name.0123456789ab.ext (a licence file has
# no extension: LICENSE.0123456789ab)
HASHED_NAME = re.compile(r"\.[0-9a-f]{12}(\.[a-z0-9]+)?$")
ASSET_TYPES = {".css": "text/css", ".js": "text/javascript"}


@dataclass
class Page:
    stylesheets: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    inline: list[str] = field(default_factory=list)  # what 'unsafe-inline' would be needed for

    @property
    def assets(self) -> list[str]:
        return self.stylesheets + self.scripts


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.page = Page()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "link" and "stylesheet" in (attributes.get("rel") or "").lower().split():
            self.page.stylesheets.append(attributes["href"])
        elif tag == "script" and attributes.get("src"):
            self.page.scripts.append(attributes["src"])
        elif tag == "script" and (attributes.get("type") or "").lower() != "application/json":
            self.page.inline.append("<script> without src")  # a JSON data block is never run
        elif tag == "style":
            self.page.inline.append("<style>")
        for name, value in attrs:
            if name == "style":
                self.page.inline.append(f'<{tag} style="{value}">')
            elif name.startswith("on"):
                self.page.inline.append(f"<{tag} {name}=...>")
            elif name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.page.inline.append(f"<{tag} {name}=javascript:...>")


def page_of(html: str) -> Page:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


def csp_directives(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    directives = {}
    for part in header.split(";"):
        if words := part.split():
            directives[words[0].lower()] = words[1:]
    return directives


def assert_strict_csp(header: str | None) -> None:
    """A policy that allows scripts and styles from this origin only, nothing inline or evaluated."""
    assert header, "no Content-Security-Policy"
    directives = csp_directives(header)
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    for sources in directives.values():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*"} & set(sources), header


def asset_type(path: str) -> str:
    return next(kind for extension, kind in ASSET_TYPES.items() if path.endswith(extension))
