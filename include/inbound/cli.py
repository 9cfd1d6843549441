"""`inbound ...`: argument parsing and output; the work is done by the rest of the package.

Exit status: 0 success, 1 a file or check failed, 2 a usage or config error.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import getpass
import json
import sys
import uuid
from pathlib import Path
from typing import Sequence, TextIO

from inbound.config import Catalog, Integration, config_dir, json_schema, load_folder, max_attributes

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
        close = difflib.get_close_matches(name, list(catalog.integrations), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(catalog.integrations))}"
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
        f"ok: {len(catalog.integrations)} integration(s), {catalog.attribute_count} of "
        f"{max_attributes()} attributes",
        file=out,
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from inbound.connections import s3_client, store
    from inbound.pipeline import run_files
    from inbound.source import head_file, list_new_files

    catalog = load_folder()
    integration = _integration(catalog, args.name)
    if integration is None:
        return EXIT_USAGE
    source = integration.source
    client = s3_client(source.aws_conn_id)
    if args.key:
        from botocore.exceptions import ClientError

        try:
            files = [head_file(client, source.bucket, args.key)]
        except ClientError as exc:
            print(f"s3://{source.bucket}/{args.key}: {exc.response['Error'].get('Message') or exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        files = list_new_files(client, source.bucket, source.key)
    attribute_store = store()
    try:
        run_id = f"cli__{uuid.uuid4().hex[:12]}"
        summary = run_files(client, attribute_store, integration, files, f"cli:{getpass.getuser()}/{run_id}", run_id)
    finally:
        attribute_store.close()
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2), file=out)
    else:
        print("\n".join(summary.lines()), file=out)
    return EXIT_FAILED if summary.failed else EXIT_OK


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    from inbound.connections import store
    from inbound.management import render, rows
    from inbound.runs import dag_states

    catalog = load_folder()
    attribute_store = store()
    try:
        last_success = attribute_store.last_success()
        users = {name: attribute_store.user_count(name) for name in catalog.integrations}
    finally:
        attribute_store.close()
    states = dag_states([i.dag_id for i in catalog.integrations.values()])
    table = rows(catalog, states, last_success, users)
    if args.json:
        print(json.dumps([r.to_dict() for r in table], indent=2), file=out)
    else:
        print(render(table), file=out)
    return EXIT_OK


def cmd_user(args: argparse.Namespace, out: TextIO) -> int:
    from inbound.connections import store

    catalog = load_folder()
    declared = {a.attribute: a.type for i in catalog.integrations.values() for a in i.attributes}
    attribute_store = store()
    try:
        found = attribute_store.user_attributes(args.user_id, declared)
    finally:
        attribute_store.close()
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
        print(f"  {name.ljust(width)}  {json.dumps(value)}   ({source['integration']}, {source['file']}, {source['updated_at'][:19]})", file=out)
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
    from inbound.discovery import DiscoveryError, discover, render

    uri = args.uri
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        print(f"{uri!r} is not an S3 object URI; give s3://BUCKET/KEY", file=sys.stderr)
        return EXIT_USAGE
    if args.bytes < 1:
        print("--bytes must be a positive number of bytes", file=sys.stderr)
        return EXIT_USAGE
    from inbound.connections import s3_client

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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="inbound", description="Inbound S3 CSV -> user attributes, on Airflow.")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check the integration configs (use as pre-commit / CI check)")
    v.add_argument("dir", nargs="?", type=Path, default=None, help="configs folder (default: INBOUND_CONFIG_DIR or dags/integrations)")
    v.add_argument("-v", "--verbose", action="store_true", help="show the offending YAML under each problem")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("run", help="run one integration once, in this process")
    r.add_argument("name", help="integration name (or its DAG id)")
    r.add_argument("--key", help="import this object key instead of waiting files")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("status", help="the management table")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    u = sub.add_parser("user", help="one user's attributes across integrations")
    u.add_argument("user_id")
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=cmd_user)

    sc = sub.add_parser("schema", help="print, write or check the config's JSON Schema")
    group = sc.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"write {SCHEMA_FILE.name}")
    group.add_argument("--check", action="store_true", help=f"fail if {SCHEMA_FILE.name} is out of date")
    sc.set_defaults(func=cmd_schema)

    d = sub.add_parser("discover", help="sample an export in S3: format, column types, user-ID candidates, a config")
    d.add_argument("uri", help="s3://BUCKET/KEY (a key pattern samples its newest file)")
    d.add_argument("--aws-conn-id", default="aws_default", help="Airflow AWS connection (default: aws_default)")
    d.add_argument("--json", action="store_true", help="print the report as JSON (with the config as text)")
    d.add_argument("--bytes", type=int, default=1024 * 1024, help="how many bytes of the file to sample (default: 1 MiB)")
    d.set_defaults(func=cmd_discover)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Results go to standard output; everything else, Airflow's logging included, to stderr."""
    args = parser().parse_args(argv)
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        return int(args.func(args, out))


if __name__ == "__main__":
    sys.exit(main())
