"""The API on a laptop: gunicorn with DEBUG off for `make run`, `runserver` with auto-reload for `make dev`.

`make run` serves the way the service is meant to be served: a production WSGI server, DEBUG off (errors
are the envelope, never Django's technical page), static files collected (hashed, gzipped) and served by
WhiteNoise as on Lambda. gunicorn, because it is the plain, widely run WSGI server for Django on Unix, it
decodes chunked request bodies (`runserver` does not; gallery_project.wsgi hands them on with a length),
and it refuses ambiguous framing (Content-Length with Transfer-Encoding). Its workers, threads and error
answers: gunicorn_config.py beside this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from devtools.local_services.config import CODE_ROOT, LOOPBACK, LocalDirs

API_PORT = 8000
GUNICORN_CONFIG = "python:devtools.local_services.gunicorn_config"


def server_environment(base: Mapping[str, str], dirs: LocalDirs, *, debug: bool) -> dict[str, str]:
    """The server's environment: `base` (real variables win over `.local/env` in the settings) with DEBUG
    forced on or off, whatever `.local/env` or the shell says, and where collected static files live."""
    environment = dict(base)
    environment.setdefault("DJANGO_SETTINGS_MODULE", "gallery_project.settings")
    environment.setdefault("GALLERY_ENV_FILE", str(dirs.env_file))
    environment["DJANGO_DEBUG"] = "true" if debug else "false"
    # `make dev` links plain names that WhiteNoise finds in the apps (edits show at once); `make run`
    # serves what collectstatic wrote, as the Lambda package does.
    environment["DJANGO_STATIC_COLLECTED"] = "false" if debug else "true"
    environment["DJANGO_STATIC_ROOT"] = str(dirs.static)
    return environment


def collectstatic_command() -> list[str]:
    # --clear: the directory holds exactly this checkout's files (no stale hashed names left behind).
    return [sys.executable, "manage.py", "collectstatic", "--noinput", "--clear", "--verbosity", "0"]


def gunicorn_command(port: int = API_PORT) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        *("--config", GUNICORN_CONFIG),
        *("--bind", f"{LOOPBACK}:{port}"),
        "gallery_project.wsgi:application",
    ]


def runserver_command(port: int = API_PORT) -> list[str]:
    return [sys.executable, "manage.py", "runserver", f"{LOOPBACK}:{port}"]


def serve(dirs: LocalDirs, port: int = API_PORT) -> None:
    """Collect static files, then become gunicorn (Ctrl-C stops it; `make stop` stops the stand-ins)."""
    environment = server_environment(os.environ, dirs, debug=False)
    subprocess.run(collectstatic_command(), cwd=CODE_ROOT, env=environment, check=True)
    command = gunicorn_command(port)
    os.chdir(CODE_ROOT)
    # Replaced, not a child: Ctrl-C and `kill` reach gunicorn itself.
    os.execve(command[0], command, environment)  # noqa: S606 (a fixed argument list, no shell)


def serve_for_development(dirs: LocalDirs, port: int = API_PORT) -> None:
    """Become `runserver`, DEBUG on, reloading on every code change."""
    command = runserver_command(port)
    os.chdir(CODE_ROOT)
    os.execve(command[0], command, server_environment(os.environ, dirs, debug=True))  # noqa: S606 (as above)
