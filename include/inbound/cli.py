"""`inbound ...`: argument parsing and output; the work is done by the rest of the package.

Exit status: 0 success, 1 a file or check failed, 2 a usage or config error (a store whose
schema is not this inbound's included: `inbound migrate` is the only command that changes it).

Start-up time is part of the interface (a pre-commit hook, a person at a terminal), so each
command imports what it needs when it runs: `validate` and `--help` load neither the store
(polars) nor Airflow; `user`, `segment` and the other store commands load no boto3, and
Airflow only when the store's connection is not in `AIRFLOW_CONN_INBOUND_STORE`; `run` and
`discover` load boto3, and Airflow only when the AWS connection is not in its
`AIRFLOW_CONN_<ID>` variable either (or needs what only Airflow's S3 hook does: an assumed
role, ...); `run` loads polars only when there is a file to read; `status` needs Airflow
for the runs (tests/test_startup.py checks this).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeAlias

from inbound.config.catalog import Catalog, config_dir, load_folder, max_attributes
from inbound.config.model import Integration, json_schema
from inbound.errors import ConfigInvalid, SchemaMismatch, Unavailable, UsageError
from inbound.suggest import did_you_mean

if TYPE_CHECKING:
    from inbound.store import AttributeStore

    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "integration.schema.json"


def _integration(catalog: Catalog, name: str) -> Integration | None:
    if name.startswith("inbound_") and name not in catalog.integrations:
        name = name.removeprefix("inbound_")
    integration = catalog.integrations.get(name)
    if integration is None:
        broken = [e for e in catalog.errors if Path(e.file).stem == name]
        if broken:
            print(f"integration {name!r} has a broken config:", file=sys.stderr)
            for error in broken:
                print(error, file=sys.stderr)
            return None
        hint = did_you_mean(name, catalog.integrations, otherwise=f"; known: {', '.join(sorted(catalog.integrations))}")
        print(f"no integration named {name!r}{hint}", file=sys.stderr)
    return integration


def cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    catalog = load_folder(args.dir)
    for error in catalog.errors:
        print(error if args.verbose else error.one_line(), file=out)
    if catalog.errors:
        print(f"{len(catalog.errors)} problem(s) in {args.dir or config_dir()}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"ok: {len(catalog.integrations)} integration(s), {catalog.attribute_count} of {max_attributes()} attributes",
        file=out,
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    # The run path imports boto3 and the store (polars once a file is read): only this command pays for them.
    from inbound.airflow.connections import s3_client, staging_client, store
    from inbound.errors import UnknownKey
    from inbound.run import Run

    catalog = load_folder()
    integration = _integration(catalog, args.name)
    if integration is None:
        return EXIT_USAGE
    source = integration.source
    run_id = f"cli__{uuid.uuid4().hex[:12]}"
    with store() as attribute_store:
        run = Run(
            integration,
            s3_client(source.aws_conn_id),
            attribute_store,
            run_id=run_id,
            triggered_by=f"cli:{getpass.getuser()}/{run_id}",
            force=getattr(args, "force", False),
            dry_run=args.command == "preview" or getattr(args, "dry_run", False),
            catalog=catalog,
            staging_client=staging_client(),
        )
        try:
            files = [run.named(args.key)] if args.key else run.look().new
        except UnknownKey as exc:
            print(f"{integration.name}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        summary = run(files)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2), file=out)
    else:
        print("\n".join(summary.lines()), file=out)
    return EXIT_FAILED if summary.failed else EXIT_OK


def _open_store() -> AttributeStore:
    # The store brings polars: only the commands that use it load it, `validate` and `--help` stay fast.
    from inbound.airflow.connections import store

    return store()


def cmd_purge(args: argparse.Namespace, out: TextIO) -> int:
    catalog = load_folder()
    still = " (its config still exists: its next run imports them again)" if args.name in catalog.integrations else ""
    with _open_store() as attribute_store:
        users = attribute_store.user_count(args.name)  # its own table, not every one
        if not users:
            print(f"integration {args.name!r} holds no values", file=out)
            return EXIT_OK
        if not args.yes:
            print(f"{args.name} holds values for {users} users{still}; run again with --yes to remove them", file=out)
            return EXIT_FAILED
        removed = attribute_store.purge(args.name, f"cli:{getpass.getuser()}")
    print(f"removed the values of {args.name} for {removed} users{still}", file=out)
    return EXIT_OK


def cmd_forget(args: argparse.Namespace, out: TextIO) -> int:
    with _open_store() as attribute_store:
        found = attribute_store.forget(args.user_id, f"cli:{getpass.getuser()}")
    if not found:
        print(f"no values stored for user {args.user_id!r}", file=out)
    for integration, names in sorted(found.items()):
        print(f"removed from {integration}: {', '.join(names)}", file=out)
    if found:
        print("a later file that still contains this user brings the values back", file=out)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace, out: TextIO) -> int:
    from inbound.airflow.connections import store_url
    from inbound.store import StoreSettings, open_store

    url = store_url()
    with open_store(url, migrate=True) as attribute_store:  # the one command that changes the schema
        version = attribute_store.schema_version()
    where = StoreSettings(url).redacted() if url else "the embedded SQLite store"
    print(f"{where}: schema version {version}", file=out)
    return EXIT_OK


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    # Airflow's metadata database (the runs) loads Airflow: only this command pays for it.
    from inbound.airflow.management import current_table, render

    table = current_table(load_folder())
    if args.json:
        print(json.dumps([r.to_dict() for r in table.rows], indent=2), file=out)
        return EXIT_OK
    print(render(table.rows), file=out)
    for name, n in sorted(table.orphans.items()):
        print(
            f"  no config, still holds values for {n} users: {name} (remove with `inbound purge {name} --yes`)",
            file=out,
        )
    return EXIT_OK


def cmd_user(args: argparse.Namespace, out: TextIO) -> int:
    catalog = load_folder()
    with _open_store() as attribute_store:
        found = attribute_store.user_attributes(args.user_id, catalog.declared_types, catalog.owners)
    if args.json:
        print(json.dumps(found), file=out)
        return EXIT_OK
    if not found["attributes"]:
        print(f"no attributes stored for user {args.user_id!r}", file=out)
        return EXIT_OK
    width = max(len(name) for name in found["attributes"])
    print(f"user {args.user_id}", file=out)
    for name, value in found["attributes"].items():
        source = found["sources"][name]
        where = f"{source['integration']}, {source['file'] or '-'}, {(source['updated_at'] or '-')[:19]}"
        print(f"  {name.ljust(width)}  {json.dumps(value)}   ({where})", file=out)
    return EXIT_OK


def cmd_segment(args: argparse.Namespace, out: TextIO) -> int:
    from inbound.rules import evaluate

    text = Path(args.rule[1:]).read_text() if args.rule.startswith("@") else args.rule
    try:
        rule = json.loads(text)
    except json.JSONDecodeError as exc:
        print(f"the rule is not JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    catalog = load_folder()
    with _open_store() as attribute_store:  # a rule that cannot be evaluated: RuleError, exit 2 (main)
        result = evaluate(
            attribute_store, rule, catalog.declared_types, sample=args.sample, owners=catalog.owners
        ).to_dict()
    if args.json:
        print(json.dumps(result), file=out)
    else:
        print(f"{result['count']} users match", file=out)
        for user in result["sample"]:
            print(f"  {user}", file=out)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, out: TextIO) -> int:
    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.check:
        if not SCHEMA_FILE.exists() or SCHEMA_FILE.read_text() != text:
            print(f"{SCHEMA_FILE} is out of date; run `inbound schema --write`", file=sys.stderr)
            return EXIT_FAILED
        print(f"{SCHEMA_FILE.name} is up to date", file=out)
    elif args.write:
        SCHEMA_FILE.write_text(text)
        print(f"wrote {SCHEMA_FILE}", file=out)
    else:
        out.write(text)
    return EXIT_OK


def cmd_discover(args: argparse.Namespace, out: TextIO) -> int:
    from inbound.discovery.proposal import discover
    from inbound.discovery.report import render
    from inbound.errors import DiscoveryError

    uri = args.uri
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        print(f"{uri!r} is not an S3 object URI; give s3://BUCKET/KEY", file=sys.stderr)
        return EXIT_USAGE
    if args.bytes < 1:
        print("--bytes must be a positive number of bytes", file=sys.stderr)
        return EXIT_USAGE
    from inbound.airflow.connections import s3_client

    try:
        client = s3_client(args.aws_conn_id)
    except Exception as exc:
        print(f"cannot make an S3 client from the Airflow connection {args.aws_conn_id!r}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = discover(client, bucket, key, max_bytes=args.bytes, aws_conn_id=args.aws_conn_id)
    except DiscoveryError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False), file=out)
    else:
        out.write(render(report))
    return EXIT_OK


def cmd_events(args: argparse.Namespace, out: TextIO) -> int:
    # Clients are made at their first call: printing works with no region or credentials at all.
    from botocore.exceptions import BotoCoreError, ClientError

    from inbound.airflow.connections import s3_client
    from inbound.airflow.queue_trigger import sqs_client
    from inbound.events.setup import LazyClient, setup

    catalog = load_folder()
    integration = _integration(catalog, args.name)
    if integration is None:
        return EXIT_USAGE
    source = integration.source
    neighbours = [
        i
        for i in catalog.integrations.values()
        if i.name != integration.name and i.source.events is not None and i.source.bucket == source.bucket
    ]
    s3 = LazyClient(lambda: s3_client(source.aws_conn_id))
    sqs = LazyClient(lambda: sqs_client(source.events_conn_id))
    try:
        found = setup(integration, s3, sqs, apply=args.apply, neighbours=neighbours)
    except (BotoCoreError, ClientError) as exc:
        step = "setting" if args.apply else "reading"
        by_name = not args.apply and source.events is not None and "://" not in source.events.queue
        hint = "; with the queue's URL in source.events.queue, printing needs no AWS access" if by_name else ""
        print(f"{step} the queue and bucket notification of {integration.name!r} failed: {exc}{hint}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(found.to_json(), indent=2), file=out)
    for warning in found.warnings():
        print(f"{integration.name}: {warning}", file=sys.stderr)
    return EXIT_FAILED if found.problems else EXIT_OK


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="inbound", description="Inbound S3 CSV -> user attributes, on Airflow.")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check the integration configs (use as pre-commit / CI check)")
    v.add_argument(
        "dir",
        nargs="?",
        type=Path,
        default=None,
        help="configs folder (default: INBOUND_CONFIG_DIR or dags/integrations)",
    )
    v.add_argument("-v", "--verbose", action="store_true", help="show the offending YAML under each problem")
    v.set_defaults(func=cmd_validate)
    _run_commands(sub)
    _store_commands(sub)
    _authoring_commands(sub)
    return p


def _run_commands(sub: Subparsers) -> None:
    """Running an integration in this process."""
    r = sub.add_parser("run", help="run one integration once, in this process")
    r.add_argument("name", help="integration name (or its DAG id)")
    r.add_argument("--key", help="import this object key instead of waiting files")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    r.add_argument(
        "--force",
        action="store_true",
        help="override the guards (mirror, deletions, volume, new columns); import even an identical file again",
    )
    r.add_argument("--dry-run", action="store_true", help="same as `inbound preview`")
    r.set_defaults(func=cmd_run)

    pv = sub.add_parser("preview", help="what the waiting files (or --key) would do; writes and moves nothing")
    pv.add_argument("name", help="integration name (or its DAG id)")
    pv.add_argument("--key", help="preview this object key")
    pv.add_argument("--json", action="store_true")
    pv.set_defaults(func=cmd_run)


def _store_commands(sub: Subparsers) -> None:
    """What the store holds and the management table."""
    pu = sub.add_parser("purge", help="remove every value an integration set (e.g. after deleting its config)")
    pu.add_argument("name")
    pu.add_argument("--yes", action="store_true", help="really remove (without it: only show how many)")
    pu.set_defaults(func=cmd_purge)

    fo = sub.add_parser("forget", help="erase one user's values from every integration")
    fo.add_argument("user_id")
    fo.set_defaults(func=cmd_forget)

    mi = sub.add_parser("migrate", help="create or upgrade the attribute store's schema (before deploying)")
    mi.set_defaults(func=cmd_migrate)

    s = sub.add_parser("status", help="the management table")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    u = sub.add_parser("user", help="one user's attributes across integrations")
    u.add_argument("user_id")
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=cmd_user)

    sg = sub.add_parser("segment", help="count the users matching a segment rule (JSON, or @file)")
    sg.add_argument("rule", help='e.g. \'{"attribute": "plan", "op": "eq", "value": "premium"}\'')
    sg.add_argument("--json", action="store_true")
    sg.add_argument("--sample", type=int, default=20, help="how many matching user IDs to show")
    sg.set_defaults(func=cmd_segment)


def _authoring_commands(sub: Subparsers) -> None:
    """Help in writing a config: its schema and a sample of an export."""
    sc = sub.add_parser("schema", help="print, write or check the config's JSON Schema")
    group = sc.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"write {SCHEMA_FILE.name}")
    group.add_argument("--check", action="store_true", help=f"fail if {SCHEMA_FILE.name} is out of date")
    sc.set_defaults(func=cmd_schema)

    d = sub.add_parser("discover", help="sample an export in S3: format, column types, user-ID candidates, a config")
    d.add_argument("uri", help="s3://BUCKET/KEY (a key pattern samples its newest file)")
    d.add_argument("--aws-conn-id", default="aws_default", help="Airflow AWS connection (default: aws_default)")
    d.add_argument("--json", action="store_true", help="print the report as JSON (with the config as text)")
    d.add_argument(
        "--bytes", type=int, default=1024 * 1024, help="how many bytes of the file to sample (default: 1 MiB)"
    )
    d.set_defaults(func=cmd_discover)

    ev = sub.add_parser(
        "events", help="the bucket notification and queue policy an event-mode integration needs (JSON)"
    )
    ev.add_argument("name", help="integration name (or its DAG id)")
    ev.add_argument(
        "--apply",
        action="store_true",
        help="set them: the queue policy first, then the notification merged into the bucket's (idempotent)",
    )
    ev.set_defaults(func=cmd_events)


def main(argv: Sequence[str] | None = None) -> int:
    """Results go to standard output; everything else, Airflow's logging included, to stderr.

    A wrong config, connection or request, or a store schema that is not this inbound's, ends in one
    line on stderr and exit status 2, not a traceback.
    """
    args = parser().parse_args(argv)
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        try:
            return int(args.func(args, out))
        except (ConfigInvalid, UsageError, SchemaMismatch) as exc:
            print(exc, file=sys.stderr)
            return EXIT_USAGE
        except Unavailable as exc:  # the store or S3 is down: one line, not a traceback
            print(exc, file=sys.stderr)
            return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
