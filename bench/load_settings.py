"""Settings of bench/load.py's server: the service's own, with a URLconf that adds one bare DRF view."""

from gallery_project.settings import *  # noqa: F403  (the service's settings, unchanged but the URLconf)

ROOT_URLCONF = "bench.load_urls"
