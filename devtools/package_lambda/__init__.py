"""Build a Zappa stage's Lambda zip from requirements.txt with wheels for Lambda's platform and runtime.

stage         where the project and zappa_settings.json are, and a stage as Zappa itself reads it
target        the stage's Lambda runtime and machine, and which shared objects can load there (glibc...)
requirements  `name==version` pins read from requirement lines
build         the zip: dependencies (installed, pruned, compiled, cached), project files, handler,
              collected static files, checks
harness       the zip run the way Lambda runs it: unpacked, fed API Gateway and EventBridge events; moto
__main__      the CLI: `python -m devtools.package_lambda --stage prod --output dist/`
"""
