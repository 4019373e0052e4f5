"""What chromium's console says about a page."""


def csp_violations(browser) -> list[str]:
    """What the page's Content-Security-Policy refused since the last call (the console log drains)."""
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
