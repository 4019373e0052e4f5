"""Build a Zappa stage's Lambda zip from requirements.txt with wheels for Lambda's platform and runtime."""

import argparse
from pathlib import Path

from devtools.package_lambda.build import build
from devtools.package_lambda.stage import PROJECT_DIR


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.package_lambda", description=__doc__)
    parser.add_argument("--stage", default="prod", help="Zappa stage in zappa_settings.json (default: prod)")
    parser.add_argument("--output", type=Path, default=PROJECT_DIR / "dist", help="directory for the zip")
    args = parser.parse_args(argv)
    result = build(args.stage, args.output.resolve())
    print(result.summary())
    print(f"deploy it with: zappa update {args.stage} --zip {result.zip_path}")


if __name__ == "__main__":
    main()
