"""Past one item: a photo's rating aggregate kept on one item, on K shard items, or by a stream aggregator.

Run `.venv/bin/python bench/rating_aggregates.py [--writers 16,64] [--seconds 5] [--shards 8,64]` (about a
minute and a half on 2 cores). Two parts, printed with the figures of the design the service has today
(``item``) as the baseline:

1. Measured on DynamoDB Local, through bench/ratings.py's proxy that applies DynamoDB's transaction
   conflict rule (a transaction touching an item another transaction is writing is cancelled), with
   tables of the bench's own shaped like the service's (ratings keyed photoId + userId; aggregates in a
   table of their own). Each writer is a visitor re-rating one photo, as in bench/ratings.py, without
   the HTTP service around it (the write path's DynamoDB calls only, so the designs compare on what
   differs). Designs:
   - ``item``: what the service does: one transaction puts the rating and ADDs its difference to the one
     aggregate item (on the service's photo item);
   - ``shards:K``: the same transaction ADDs to one of K aggregate items (the visitor's, by a hash of
     the userId); a reader sums the K items (one BatchGetItem per 100);
   - ``stream``: the rating is one conditional PutItem, no transaction; an aggregator reads the ratings
     table's stream (old and new images) and ADDs each batch's difference to one aggregate item, with
     the stream position it applied in the same conditional update (a batch read twice is applied
     once). Staleness is how old the oldest committed rating not yet in the aggregate is, sampled every
     50 ms, and how long the aggregate takes to catch up once writes stop.
   Per design: writes/s, p50/p99, conflicts and retries, what one read of the aggregate costs (latency,
   items and read units), and whether the aggregate equals a recount of the ratings at the end.

2. Simulated at the target (10,000 rating writes/s on one photo on AWS): DynamoDB's conflict rule as a
   queue of transactions that each hold their aggregate item for ``--hold-ms`` (the time a transaction
   keeps an item from others is not published: the figures are given for a range), Poisson arrivals,
   the service's backoff (full jitter, 10 ms doubling to 400 ms, up to 60 attempts), and the write
   units each partition takes against its limit of 1,000 a second.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from isolated import isolate

STARS = range(1, 6)
# The service's (checked against core.transactions and photos.services.rate when the bench starts): 6
# attempts of a transaction, 10 tries of the rating; its backoff between attempts.
TRANSACTION_ATTEMPTS = 60
PAUSE_SECONDS, PAUSE_MAX_SECONDS = 0.01, 0.4
RATINGS, AGGREGATES = "BenchRatings", "BenchAggregates"
PARTITION_WRITE_UNITS = 1000  # DynamoDB's limit per partition, per second
TARGET_WRITES_PER_SECOND = 10_000


def shard_of(user_id: str, shards: int) -> int:
    return int.from_bytes(hashlib.sha256(user_id.encode()).digest()[:4], "big") % shards


def pause(attempt: int, rng: random.Random | None = None) -> float:
    """The service's backoff: full jitter under a ceiling that doubles from 10 ms to 400 ms."""
    return (rng or random).uniform(0, min(PAUSE_MAX_SECONDS, PAUSE_SECONDS * 2 ** min(attempt, 6)))


def number(value: int) -> dict:
    return {"N": str(value)}


# ---------------------------------------------------------------- writes, per design


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    conflicts: int = 0  # attempts cancelled by a conflict
    gave_up: int = 0
    commits: list[float] = field(default_factory=list)  # when each write committed (monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def aggregate_update(key: str, new: int, old: int | None) -> dict:
    """The ADDs that move an aggregate item from a visitor's old stars to new ones."""
    values = {":sum": number(new - (old or 0)), ":count": number(0 if old else 1), ":one": number(1)}
    expression = "ADD ratingSum :sum, ratingCount :count, #new :one"
    names = {"#new": f"h{new}"}
    if old:
        expression += ", #old :minus"
        names["#old"], values[":minus"] = f"h{old}", number(-1)
    return {
        "TableName": AGGREGATES,
        "Key": {"aggregateKey": {"S": key}},
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def rating_put(photo: str, user: str, stars: int, old: int | None) -> dict:
    item = {"photoId": {"S": photo}, "userId": {"S": user}, "rating": number(stars)}
    if old is None:
        return {"TableName": RATINGS, "Item": item, "ConditionExpression": "attribute_not_exists(userId)"}
    return {
        "TableName": RATINGS,
        "Item": item,
        "ConditionExpression": "rating = :old",
        "ExpressionAttributeValues": {":old": number(old)},
    }


def writer(client, design: str, shards: int, photo: str, user: str, start, stop_at: list, tally: Tally):
    """One visitor re-rating the photo until the run ends, never the same stars twice running."""
    chooser, old = random.Random(user), None
    start.wait()
    while time.monotonic() < stop_at[0]:
        stars = chooser.choice([value for value in STARS if value != old])
        began = time.perf_counter()
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                if design == "stream":
                    client.put_item(**rating_put(photo, user, stars, old))
                else:
                    key = photo if design == "item" else f"{photo}#{shard_of(user, shards)}"
                    client.transact_write_items(
                        TransactItems=[
                            {"Put": rating_put(photo, user, stars, old)},
                            {"Update": aggregate_update(key, stars, old)},
                        ]
                    )
            except client.exceptions.TransactionCanceledException as error:
                codes = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])}
                if "TransactionConflict" not in codes:
                    raise
                with tally.lock:
                    tally.conflicts += 1
                time.sleep(pause(attempt))
                continue
            with tally.lock:
                tally.latencies_ms.append((time.perf_counter() - began) * 1000)
                tally.commits.append(time.monotonic())
            old = stars
            break
        else:
            with tally.lock:
                tally.gave_up += 1


# ---------------------------------------------------------------- the stream aggregator


class StreamAggregator(threading.Thread):
    """Reads the ratings table's stream and ADDs each batch's difference, per photo, to the photo's
    aggregate item, with the stream position in the same update: ``seq_<shard>`` must be below the
    batch's first sequence number, so a batch read again (a crash, a retry) is not applied twice.
    ``applied`` counts the ratings the aggregate holds (one per stream record)."""

    def __init__(self, client, streams, stream_arn: str):
        super().__init__(daemon=True)
        self.client, self.streams, self.stream_arn = client, streams, stream_arn
        self.iterators: dict[str, str | None] = {}
        self.stopping = threading.Event()
        self.batches = 0

    def run(self) -> None:
        while not self.stopping.is_set():
            shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
            for shard in shards:
                if shard["ShardId"] not in self.iterators:
                    self.iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                        StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                    )["ShardIterator"]
            idle = True
            for shard_id, iterator in list(self.iterators.items()):
                if iterator is None:
                    continue
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                self.iterators[shard_id] = page.get("NextShardIterator")
                if page["Records"]:
                    idle = False
                    self.apply(shard_id, page["Records"])
            if idle:
                time.sleep(0.02)

    def apply(self, shard_id: str, records: list[dict]) -> None:
        """Per photo: read the stream position its aggregate holds, keep the records after it (a batch
        read again after a crash may start before it, or end after it), and ADD their difference with
        the new position, on condition that the position is still the one read."""
        position = "seq_" + "".join(c if c.isalnum() else "_" for c in shard_id)
        by_photo: dict[str, list[dict]] = defaultdict(list)
        for record in records:
            by_photo[record["dynamodb"]["Keys"]["photoId"]["S"]].append(record)
        for photo, photo_records in by_photo.items():
            key = {"aggregateKey": {"S": f"{photo}@stream"}}
            while True:
                stored = self.client.get_item(
                    TableName=AGGREGATES,
                    Key=key,
                    ConsistentRead=True,
                    ProjectionExpression="#position",
                    ExpressionAttributeNames={"#position": position},
                ).get("Item", {})
                held = stored.get(position, {}).get("S", "")
                fresh = [r for r in photo_records if r["dynamodb"]["SequenceNumber"].zfill(40) > held]
                if not fresh:
                    break
                change = difference(fresh)
                names = {f"#a{n}": name for n, name in enumerate(change)}
                values = {f":a{n}": number(value) for n, value in enumerate(change.values())}
                adds = ", ".join(f"#a{n} :a{n}" for n in range(len(change)))
                values[":last"] = {"S": fresh[-1]["dynamodb"]["SequenceNumber"].zfill(40)}
                condition = "attribute_not_exists(#position)"
                if held:
                    condition, values[":held"] = "#position = :held", {"S": held}
                try:
                    self.client.update_item(
                        TableName=AGGREGATES,
                        Key=key,
                        UpdateExpression=f"ADD {adds} SET #position = :last",
                        ConditionExpression=condition,
                        ExpressionAttributeNames={**names, "#position": position},
                        ExpressionAttributeValues=values,
                    )
                    break
                except self.client.exceptions.ConditionalCheckFailedException:
                    continue  # another reader of this shard moved the position: read it again
        self.batches += 1


def difference(records: list[dict]) -> Counter:
    """What stream records (old and new images of ratings) change in an aggregate; ``applied`` counts
    them."""
    change: Counter = Counter()
    for record in records:
        images = record["dynamodb"]
        old = int(images["OldImage"]["rating"]["N"]) if "OldImage" in images else None
        new = int(images["NewImage"]["rating"]["N"]) if "NewImage" in images else None
        change["ratingSum"] += (new or 0) - (old or 0)
        change["ratingCount"] += (new is not None) - (old is not None)
        change["applied"] += 1
        for stars, step in ((new, 1), (old, -1)):
            if stars is not None:
                change[f"h{stars}"] += step
    return change


# ---------------------------------------------------------------- reading the aggregate


def read_aggregate(client, design: str, photo: str, shards: int) -> tuple[dict, float, int]:
    """The aggregate as a reader gets it (strongly consistent): its totals, the read units AWS would
    charge, the items read."""
    if design in ("item", "stream"):
        key = photo if design == "item" else f"{photo}@stream"
        answer = client.get_item(
            TableName=AGGREGATES,
            Key={"aggregateKey": {"S": key}},
            ConsistentRead=True,
            ReturnConsumedCapacity="TOTAL",
        )
        return totals([answer.get("Item", {})]), 1.0, 1
    keys = [{"aggregateKey": {"S": f"{photo}#{n}"}} for n in range(shards)]
    items: list[dict] = []
    for start in range(0, len(keys), 100):
        pending = {AGGREGATES: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
        while pending:
            answer = client.batch_get_item(RequestItems=pending)
            items += answer["Responses"].get(AGGREGATES, [])
            pending = answer.get("UnprocessedKeys") or {}
    # AWS's rule: a strongly consistent read of an item under 4 KB is one read unit, found or not
    # (DynamoDB Local counts only the items it found).
    return totals(items), float(len(keys)), len(keys)


def totals(items: list[dict]) -> dict:
    names = ("ratingCount", "ratingSum", *(f"h{stars}" for stars in STARS), "applied")
    return {name: sum(int(item.get(name, {"N": "0"})["N"]) for item in items) for name in names}


def recount(client, photo: str) -> dict:
    pages = client.get_paginator("query").paginate(
        TableName=RATINGS,
        KeyConditionExpression="photoId = :photo",
        ExpressionAttributeValues={":photo": {"S": photo}},
        ConsistentRead=True,
    )
    stars = [int(item["rating"]["N"]) for page in pages for item in page["Items"]]
    counted = {"ratingCount": len(stars), "ratingSum": sum(stars)}
    return {**counted, **{f"h{value}": stars.count(value) for value in STARS}}


# ---------------------------------------------------------------- part 1: one design on DynamoDB Local


def measure(
    client, streams, stream_arn, design: str, writers: int, seconds: float, reads: int
) -> tuple[str, bool]:
    """One design at one level: its printed row, and whether the aggregate equalled a recount."""
    name, _, shards_text = design.partition(":")
    shards = int(shards_text or 1)
    photo = f"photo-{name}{shards_text}-{writers}-{random.getrandbits(32):08x}"
    aggregator = None
    if name == "stream":
        aggregator = StreamAggregator(client, streams, stream_arn)
        aggregator.start()
    tally, start, stop_at = Tally(), threading.Barrier(writers + 1), [float("inf")]
    threads = [
        threading.Thread(
            target=writer, args=(client, name, shards, photo, f"v{n}", start, stop_at, tally), daemon=True
        )
        for n in range(writers)
    ]
    for thread in threads:
        thread.start()
    staleness: list[float] = []
    start.wait()
    began = time.monotonic()
    stop_at[0] = began + seconds
    while aggregator is not None and time.monotonic() < stop_at[0]:
        time.sleep(0.05)
        applied = read_aggregate(client, "stream", photo, 1)[0]
        staleness.append(oldest_unapplied_age(tally, applied))
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    caught_up = ""
    if aggregator is not None:
        last_write = max(tally.commits, default=time.monotonic())
        while read_aggregate(client, "stream", photo, 1)[0].get("applied", 0) < len(tally.commits):
            if time.monotonic() - last_write > 30:
                break
            time.sleep(0.01)
        caught_up = f"; caught up {time.monotonic() - last_write:.2f} s after the last write"
        aggregator.stopping.set()
        aggregator.join()
    read_ms, units, items = [], 0.0, 0
    for _ in range(reads):
        read_began = time.perf_counter()
        found, units, items = read_aggregate(client, name, photo, shards)
        read_ms.append((time.perf_counter() - read_began) * 1000)
    exact = {key: value for key, value in found.items() if key != "applied"} == recount(client, photo)
    written = len(tally.commits)
    stale = ""
    if staleness:
        ordered = sorted(staleness)
        stale = (
            f"; staleness p50 {ordered[len(ordered) // 2] * 1000:.0f} ms,"
            f" max {ordered[-1] * 1000:.0f} ms{caught_up}"
        )
    return (
        f"{design:<10} {writers:>7} {written / elapsed:>8.1f} {tally.percentile(0.5):>7.1f}"
        f" {tally.percentile(0.99):>7.1f} {tally.conflicts / max(written, 1):>9.2f} {tally.gave_up:>6}"
        f" {statistics_mean(read_ms):>8.2f} {items:>5} {units:>6.1f}   {'yes' if exact else 'NO'}{stale}"
    ), exact


def oldest_unapplied_age(tally: Tally, applied: dict) -> float:
    with tally.lock:
        committed = list(tally.commits)
    done = applied.get("applied", 0)
    return time.monotonic() - committed[done] if done < len(committed) else 0.0


def statistics_mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# ---------------------------------------------------------------- part 2: the target, simulated


@dataclass
class Simulated:
    rate: float
    conflicted: float  # fraction of attempts
    attempts_p99: int
    gave_up: int
    busiest_units: float  # write units a second on the busiest aggregate item's partition


def simulate(shards: int, offered: float, hold: float, seconds: float = 1.0, seed: int = 1) -> Simulated:
    """DynamoDB's conflict rule as a model: a transaction holds its aggregate item for ``hold`` seconds
    from when it reaches it; another that reaches the item meanwhile is cancelled and tries again after
    the service's backoff, up to TRANSACTION_ATTEMPTS. Arrivals are Poisson at ``offered`` a second."""
    rng = random.Random(seed)
    events: list[tuple[float, int, int, int]] = []  # (time, write, attempt, shard)
    now, write = 0.0, 0
    while now < seconds:
        now += rng.expovariate(offered)
        heapq.heappush(events, (now, write, 0, rng.randrange(shards)))
        write += 1
    busy_until = [0.0] * shards
    done: Counter = Counter()
    attempts_of: list[int] = []
    attempts = conflicts = gave_up = 0
    while events:
        moment, write, attempt, shard = heapq.heappop(events)
        attempts += 1
        if moment < busy_until[shard]:
            conflicts += 1
            if attempt + 1 >= TRANSACTION_ATTEMPTS:
                gave_up += 1
                continue
            # The cancellation's round trip (half a hold), then the service's backoff.
            retry = moment + hold / 2 + pause(attempt, rng)
            heapq.heappush(events, (retry, write, attempt + 1, shard))
            continue
        busy_until[shard] = moment + hold
        done[shard] += 1
        attempts_of.append(attempt + 1)
    span = max(seconds, max(busy_until))
    attempts_of.sort()
    return Simulated(
        rate=sum(done.values()) / span,
        conflicted=conflicts / max(attempts, 1),
        attempts_p99=attempts_of[int(0.99 * (len(attempts_of) - 1))] if attempts_of else 0,
        gave_up=gave_up,
        busiest_units=2 * max(done.values(), default=0) / span,  # a transactional write of <= 1 KB: 2 units
    )


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writers", default="16,64", help="concurrent writers (default 16,64)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per design and level (default 5)")
    parser.add_argument("--shards", default="8,64", help="shard counts measured (default 8,64)")
    parser.add_argument(
        "--reads", type=int, default=100, help="aggregate reads timed per design (default 100)"
    )
    parser.add_argument("--hold-ms", default="5,10,25", help="hold times simulated, ms (default 5,10,25)")
    parser.add_argument(
        "--simulate-shards", default="1,16,64,128,256,512", help="shard counts simulated at the target"
    )
    args = parser.parse_args()
    writers = [int(n) for n in args.writers.split(",")]
    designs = ["item", *(f"shards:{int(n)}" for n in args.shards.split(",")), "stream"]

    isolate(LOG_LEVEL="WARNING")
    from botocore.config import Config

    from core import transactions
    from photos.services import rate

    service = (
        transactions.ATTEMPTS * rate.RATING_WRITE_ATTEMPTS,
        transactions.PAUSE_SECONDS,
        transactions.PAUSE_MAX_SECONDS,
    )
    if service != (TRANSACTION_ATTEMPTS, PAUSE_SECONDS, PAUSE_MAX_SECONDS):
        print(f"the service's attempts and backoff are now {service}: update the bench's to match")
        return 1

    from bench.ratings import ConflictProxy
    from devtools.local_services.emulators import DynamoDBLocal
    from devtools.local_services.probes import local_aws_client

    print(
        "part 1, measured: DynamoDB Local (in memory) behind the proxy that applies DynamoDB's transaction"
        f" conflict rule; {args.seconds:g} s per design and level; shared 2-core machine, figures vary"
    )
    print(
        f"{'design':<10} {'writers':>7} {'writes/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'conflicts':>9}"
        f" {'gaveup':>6} {'read ms':>8} {'items':>5} {'RCU':>6}   aggregate = recount"
    )
    with DynamoDBLocal() as dynamodb:
        admin = local_aws_client("dynamodb", dynamodb.endpoint_url)
        admin.create_table(
            TableName=RATINGS,
            KeySchema=[
                {"AttributeName": "photoId", "KeyType": "HASH"},
                {"AttributeName": "userId", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "photoId", "AttributeType": "S"},
                {"AttributeName": "userId", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        admin.create_table(
            TableName=AGGREGATES,
            KeySchema=[{"AttributeName": "aggregateKey", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "aggregateKey", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        stream_arn = admin.describe_table(TableName=RATINGS)["Table"]["LatestStreamArn"]
        proxy = ConflictProxy(dynamodb.port, {RATINGS: ["photoId", "userId"], AGGREGATES: ["aggregateKey"]})
        pool = Config(max_pool_connections=max(writers) + 8, connect_timeout=5, read_timeout=30)
        endpoint = f"http://127.0.0.1:{proxy.port}"
        client = local_aws_client("dynamodb", endpoint, pool)
        streams = local_aws_client("dynamodbstreams", dynamodb.endpoint_url, pool)
        all_exact = True
        try:
            for level in writers:
                for design in designs:
                    row, exact = measure(client, streams, stream_arn, design, level, args.seconds, args.reads)
                    print(row)
                    all_exact = all_exact and exact
        finally:
            proxy.stop()

    holds = [float(ms) / 1000 for ms in args.hold_ms.split(",")]
    print(
        f"\npart 2, simulated: {TARGET_WRITES_PER_SECOND:,} rating writes/s offered on one photo for 1 s; a"
        " transaction holds its aggregate item for the hold time; write units of the busiest aggregate"
        f" item's partition against its {PARTITION_WRITE_UNITS:,} a second"
    )
    print(
        f"{'shards':>6} {'hold ms':>7} {'writes/s':>9} {'conflicted':>10} {'p99 tries':>9} {'gave up':>7}"
        f" {'WCU/s':>7} {'read: items':>11} {'RCU':>6}"
    )
    for shards in (int(n) for n in args.simulate_shards.split(",")):
        for hold in holds:
            result = simulate(shards, TARGET_WRITES_PER_SECOND, hold)
            print(
                f"{shards:>6} {hold * 1000:>7.0f} {result.rate:>9.0f} {result.conflicted:>10.2f}"
                f" {result.attempts_p99:>9} {result.gave_up:>7} {result.busiest_units:>7.0f}"
                # Summing K shards: K items of < 1 KB, 0.5 unit each read eventually consistent.
                f" {shards:>11} {shards * 0.5:>6.1f}"
            )
    if not all_exact:
        print("FAILED: an aggregate differed from its recount")
    return 0 if all_exact else 1


if __name__ == "__main__":
    sys.exit(main())
