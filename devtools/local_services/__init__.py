"""Local stand-ins for DynamoDB (DynamoDB Local) and S3 (s3rver), and the API's server: a CLI, an API for
tests.

config      where they live and listen: the project root, its `.local/` layout, ports, dummy credentials
env         the `.local/env` file Django reads on a laptop: its defaults, written once, read back
processes   ports and processes: free ports, /proc lookups, terminating, waiting until ready
probes      boto3 clients for the stand-ins, and readiness checks that make a real API call
emulators   DynamoDB Local's and s3rver's command lines, and DynamoDBLocal, a throwaway one for tests
s3rver_store_lock.js  preloaded into every s3rver: an upload racing a delete no longer crashes it
supervisor  the pair in the background for `make run`: start, stop and status, under one lock
server      the API itself: gunicorn, DEBUG off, collected static files (`make run`); runserver (`make dev`)
__main__    the CLI: `python -m devtools.local_services env-file|start|stop|status|serve|dev`
"""
