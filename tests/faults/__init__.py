"""The fault suite (integration tier): inject a fault, then check the invariants over the whole store.

services    this worker's own DynamoDB Local and s3rver: free ports, data on disk, freeze, kill, restart
store       the service pointed at them, emptied around each test; a curator key and API clients
injection   frozen(), killed(), failing_calls(), held_calls(), raced()
invariants  store_violations() / assert_store_consistent(): the rules over every table and the bucket
"""
