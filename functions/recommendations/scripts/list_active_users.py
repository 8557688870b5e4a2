"""ListActiveUsers step of the batch recommender's scoring pipeline: the users to score
tonight, as the batch transform's input, and today's popular items, for the manifest.

Processing job, SKLearn 1.4-2 image (Python 3.10, boto3), in the VPC without network
isolation (Athena, S3). No mlkit imports: it imports its flat neighbours `sql` and
`athena_unload` (functions/recommendations/runtime.py, CODE_FILES).

Input: popular_items.sql and active_users.sql in /opt/ml/processing/input/code (the code
input: every SQL file is uploaded there flat; `--sql` to override).
What it does, with `{as_of}` = `--as-of` (default: now):
1. renders popular_items.sql (`--item-features-table`, `{top_n}` = `--top-n`) and UNLOADs it
   (item_id, popular_rank) to a staging prefix of this run: the at most `--top-n` items
   ranked by their item_features record's 7-day, then 30-day interactions, then item id
   (the query's header has the rule);
2. renders active_users.sql (`--user-features-table`, `{active_days}`), UNLOADs it (one
   column, user_id) to the staging prefix and rewrites the rows as JSON lines;
3. removes the staging prefix (also on failure).

Outputs:
    <--output-s3-uri>/users-00000.jsonl, users-00001.jsonl, ...   `{"user_id": "..."}` per
        line, at most `--users-per-file` lines a file (KMS-encrypted; what an earlier attempt
        left under the prefix is removed first). Batch transform input: SplitType Line,
        content type application/jsonlines; its outputs are named `<file>.out`.
    <--output>/active_users.json   `{"users": N, "data_set": "<--output-s3-uri>/",
        "popular": [item ids, ranked, at most --top-n]}` (default /opt/ml/processing/output,
        a processing output for WriteManifest, which publishes `popular` and records
        `data_set` as the generation's lineage; not under the transform input prefix).
Exit 1 with one line on stderr when a query fails, no item is popular (the loader refuses
a manifest without popular items) or no user is active (it refuses an empty generation);
the user files are written only once the popular items are known.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import athena_unload
import sql

INPUT_SQL = Path("/opt/ml/processing/input/code")
OUTPUT = Path("/opt/ml/processing/output")
UTC = timezone.utc  # noqa: UP017 - the processing image runs Python 3.10 (no datetime.UTC)


def write_user_files(
    s3: Any, users: Iterable[str], destination: str, kms_key_arn: str, per_file: int
) -> tuple[int, list[str]]:
    """JSON lines files of at most `per_file` users under `destination`; (users, keys)."""
    bucket, prefix = athena_unload.split_s3(destination.rstrip("/") + "/")
    athena_unload.delete_prefix(s3, f"s3://{bucket}/{prefix}")
    keys: list[str] = []
    count, batch = 0, []

    def flush() -> None:
        key = f"{prefix}users-{len(keys):05d}.jsonl"
        body = "".join(json.dumps({"user_id": user}) + "\n" for user in batch).encode()
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=kms_key_arn,
        )
        keys.append(key)

    for user in users:
        batch.append(user)
        count += 1
        if len(batch) == per_file:
            flush()
            batch = []
    if batch:
        flush()
    return count, keys


def read_popular(lines: Iterable[str], top_n: int) -> list[str]:
    """The item ids of popular_items.sql's unloaded rows (`item_id,popular_rank`, any file
    order) in rank order; AthenaError unless the ranks are 1, 2, ... of distinct items, at
    most `top_n` of them."""
    ranked: dict[int, str] = {}
    for line in lines:
        item, _, rank = line.rpartition(",")
        if not item or not (rank.isascii() and rank.isdigit()) or int(rank) in ranked:
            raise athena_unload.AthenaError(f"unexpected popular_items row {line!r}")
        ranked[int(rank)] = item
    items = [ranked[rank] for rank in sorted(ranked)]
    if sorted(ranked) != list(range(1, len(ranked) + 1)):
        raise athena_unload.AthenaError(f"popular_items ranks are not 1..{len(ranked)}")
    if len(set(items)) != len(items):
        raise athena_unload.AthenaError("popular_items ranks an item twice")
    if len(items) > top_n:
        raise athena_unload.AthenaError(f"popular_items returned {len(items)} > {top_n} items")
    return items


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: Callable[[str | None], tuple[Any, Any]] = athena_unload.clients,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Entry point of the processing job."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--region", required=True)
    parser.add_argument("--workgroup", required=True)
    parser.add_argument("--feature-database", required=True)
    parser.add_argument("--user-features-table", required=True)
    parser.add_argument("--item-features-table", required=True)
    parser.add_argument("--active-days", type=int, required=True)
    parser.add_argument("--top-n", type=int, required=True, help="most popular items listed")
    parser.add_argument("--as-of", help="ISO-8601 (default: now)")
    parser.add_argument("--output-s3-uri", required=True, help="the batch transform input")
    parser.add_argument("--staging-s3-uri", required=True)
    parser.add_argument("--kms-key-arn", required=True)
    parser.add_argument("--users-per-file", type=int, default=100_000)
    parser.add_argument("--query-timeout-seconds", type=float, default=3000.0)
    parser.add_argument("--run-id", default=None)
    parser.add_argument("--sql", type=Path, default=INPUT_SQL)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if not 1 <= args.active_days <= sql.MAX_DAYS:
        parser.error(f"--active-days must be from 1 to {sql.MAX_DAYS}")
    if not 1 <= args.top_n <= sql.MAX_TOP_N:
        parser.error(f"--top-n must be from 1 to {sql.MAX_TOP_N}")
    if args.users_per_file < 1:
        parser.error("--users-per-file must be at least 1")

    run = f"{args.staging_s3_uri.rstrip('/')}/{args.run_id or uuid.uuid4().hex}"
    s3 = None
    try:
        as_of = athena_unload.parse_as_of(args.as_of) if args.as_of else now()
        when = athena_unload.iso(int(as_of.timestamp() * 1000))

        def template(name: str, **values: object) -> str:
            text = (args.sql / f"{name}.sql").read_text(encoding="utf-8")
            return sql.fill(
                text,
                {
                    "feature_database": args.feature_database,
                    "as_of": sql.as_of_literal(as_of),
                    **values,
                },
            )

        popular_query = template(
            "popular_items", item_features_table=args.item_features_table, top_n=args.top_n
        )
        users_query = template(
            "active_users",
            user_features_table=args.user_features_table,
            active_days=args.active_days,
        )
        athena, s3 = clients(args.region)

        def unload(query: str, destination: str, columns: tuple[str, ...]) -> dict[str, Any]:
            return athena_unload.run_query(
                athena,
                athena_unload.unload_statement(query, destination, columns),
                workgroup=args.workgroup,
                database=args.feature_database,
                output_location=f"{run}/results/",
                kms_key_arn=args.kms_key_arn,
                timeout_seconds=args.query_timeout_seconds,
                sleep=sleep,
            )

        popular_unloaded = f"{run}/popular/"
        popular_execution = unload(popular_query, popular_unloaded, ("item_id", "popular_rank"))
        popular = read_popular(athena_unload.read_lines(s3, popular_unloaded), args.top_n)
        if not popular:
            raise athena_unload.AthenaError(
                f"no popular items as of {when} (a live item_features record with an "
                "interaction in 7 or 30 days)"
            )
        unloaded = f"{run}/data/"
        execution = unload(users_query, unloaded, ("user_id",))
        users, keys = write_user_files(
            s3,
            athena_unload.read_lines(s3, unloaded),
            args.output_s3_uri,
            args.kms_key_arn,
            args.users_per_file,
        )
        if not users:
            raise athena_unload.AthenaError(
                f"no active users as of {when} (a live user_features record, last "
                f"interaction within {args.active_days} days)"
            )
    except (athena_unload.AthenaError, sql.TemplateError, OSError) as error:
        print(f"ListActiveUsers failed: {error}", file=sys.stderr)
        return 1
    finally:
        if s3 is not None:
            athena_unload.delete_prefix(s3, f"{run}/")

    args.output.mkdir(parents=True, exist_ok=True)
    summary = {
        "users": users,
        "data_set": args.output_s3_uri.rstrip("/") + "/",
        "popular": popular,
    }
    (args.output / "active_users.json").write_text(json.dumps(summary) + "\n")
    print(
        f"active users: {users} in {len(keys)} files, popular items: {len(popular)}; Athena "
        f"queries {popular_execution['QueryExecutionId']}, {execution['QueryExecutionId']}"
    )
    return 0


if __name__ == "__main__":

    def _stop(signum: int, frame: object) -> None:
        raise SystemExit(f"ListActiveUsers stopped (signal {signum})")

    signal.signal(signal.SIGTERM, _stop)
    sys.exit(main())
