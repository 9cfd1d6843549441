"""Build the example integrations' CSV exports (deterministic) and optionally upload them.

    python scripts/example_data.py OUT_DIR                 write the files
    python scripts/example_data.py --upload BUCKET         write to S3 (AWS_ENDPOINT_URL)

The CRM export is what a Salesforce "contacts" report gives; the support export is
Zendesk's users-with-ticket-counts view. Ada Lovelace is in both, for the demo lookup.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
from datetime import UTC, date, datetime, timedelta

PLANS = ["free", "starter", "premium", "enterprise"]
DEPARTMENTS = ["Sales", "Marketing", "Engineering", "Support", "Finance", "HR"]
COUNTRIES = ["DE", "US", "FR", "GB", "NL", "AT", "CH"]
FIRST = ["Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret"]
LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton"]
DEMO_USER = "ada.lovelace@example.com"
CRM_KEY = "crm/users_2026-11-28.csv"
SUPPORT_KEY = "zendesk/tickets_2026-11-28.csv"


def _users(n: int) -> list[tuple[str, str, str]]:
    users = [("Ada", "Lovelace", DEMO_USER)]
    for i in range(1, n):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        users.append((first, last, f"{first.lower()}.{last.lower()}.{i}@example.com"))
    return users


def crm_csv(n: int = 500, seed: int = 7) -> str:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "Contact ID",
            "First Name",
            "Last Name",
            "Email",
            "Account Name",
            "Plan",
            "Department",
            "Country",
            "Seats",
            "Signup Date",
            "Is Admin",
            "Owner",
        ]
    )
    for i, (first, last, email) in enumerate(_users(n)):
        plan = "premium" if email == DEMO_USER else rng.choice(PLANS)
        department = "Engineering" if email == DEMO_USER else rng.choice(DEPARTMENTS)
        signup = date(2020, 1, 1) + timedelta(days=rng.randrange(0, 2000))
        writer.writerow(
            [
                f"003{i:07d}",
                first,
                last,
                email,
                f"{last} & Co, Ltd.",
                plan,
                department,
                rng.choice(COUNTRIES),
                rng.randrange(1, 250),
                signup.isoformat(),
                "true" if rng.random() < 0.1 or email == DEMO_USER else "false",
                "Jane Doe",
            ]
        )
    return out.getvalue()


def support_csv(n: int = 500, seed: int = 11) -> str:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "Requester Email",
            "Requester Name",
            "Organization",
            "Open Tickets",
            "Solved Tickets",
            "Satisfaction Score",
            "Last Ticket At",
        ]
    )
    for first, last, email in _users(n)[: n * 3 // 5]:
        opened = 3 if email == DEMO_USER else rng.choice([0, 0, 0, 1, 1, 2, 3, 5])
        last_at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 27 * 24 * 60))
        score = "" if rng.random() < 0.2 else f"{rng.uniform(1, 5):.1f}"
        writer.writerow(
            [
                email,
                f"{first} {last}",
                f"{last} & Co",
                opened,
                rng.randrange(0, 40),
                score,
                last_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            ]
        )
    return out.getvalue()


def files() -> dict[str, str]:
    return {CRM_KEY: crm_csv(), SUPPORT_KEY: support_csv()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", help="folder to write the files to")
    parser.add_argument("--upload", metavar="BUCKET", help="upload to this bucket (created if missing)")
    args = parser.parse_args()
    if args.upload:
        import boto3

        s3 = boto3.client("s3")
        try:
            s3.create_bucket(Bucket=args.upload)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        for key, text in files().items():
            s3.put_object(Bucket=args.upload, Key=key, Body=text.encode("utf-8"))
            print(f"uploaded s3://{args.upload}/{key}")
    if args.out:
        from pathlib import Path

        for key, text in files().items():
            path = Path(args.out) / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="")
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
