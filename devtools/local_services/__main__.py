"""Local stand-ins for DynamoDB (DynamoDB Local) and S3 (s3rver): the CLI `make run` drives."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devtools.local_services.config import LocalDirs, project_root
from devtools.local_services.env import write_env_file
from devtools.local_services.processes import LocalServiceError
from devtools.local_services.server import API_PORT, serve, serve_for_development
from devtools.local_services.supervisor import print_status, start_services, stop_services


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.local_services", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="start DynamoDB Local and s3rver in the background (idempotent)")
    commands.add_parser("stop", help="stop both")
    commands.add_parser("status", help="show whether each is running")
    env_file_parser = commands.add_parser("env-file", help="write the local env file, adding missing keys")
    env_file_parser.add_argument("--path", type=Path, help="relative to the project root; default .local/env")
    for name, help_text in (
        ("serve", "serve the API with gunicorn, DEBUG off, static files collected (make run)"),
        ("dev", "serve the API with runserver, DEBUG on, reloading on code changes (make dev)"),
    ):
        server_parser = commands.add_parser(name, help=help_text)
        server_parser.add_argument(
            "--port", type=int, default=API_PORT, help=f"on 127.0.0.1 (default {API_PORT})"
        )
    args = parser.parse_args(argv)

    dirs = LocalDirs(project_root())
    try:
        if args.command == "start":
            start_services(dirs)
        elif args.command == "stop":
            stop_services(dirs)
        elif args.command == "status":
            print_status(dirs)
        elif args.command == "serve":
            serve(dirs, args.port)
        elif args.command == "dev":
            serve_for_development(dirs, args.port)
        else:
            path = dirs.root / args.path if args.path else dirs.env_file
            added = write_env_file(path)
            print(f"{path}: " + (f"added {', '.join(added)}" if added else "up to date"))
    except LocalServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
