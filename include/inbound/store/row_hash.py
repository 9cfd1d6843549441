"""A stable content hash per user row: what lets a re-import send only the changed rows.

Each integration's table keeps, beside a user's values, `_hash`: the hash of the file row
that last wrote or confirmed them. A re-import hashes its rows the same way and sends to the
database only those whose hash is not among the stored ones (new users, changed values);
a daily full export with 1% changed costs about what the 1% costs.

The hash is XXH3-64, a published algorithm with a reference implementation
(`xxhash`), computed by the `polars-hash` plugin as a polars expression: unlike polars' own
`hash()`, its values do not change with the polars version (`tests/test_row_hash.py` pins
known rows' hashes and checks them against the reference). It is not a secret or a MAC:
an exporter who could forge a collision could as well leave the row unchanged.

What is hashed, as UTF-8 text joined by NUL characters: the user ID and every attribute's
canonical text (`inbound.values.text`; an empty text for no value), then which of them had
no value, as decimal bit masks (bit k of mask g: field 63g + k, the user ID being field 0).
No stored text holds a NUL (the store refuses one before hashing), so the encoding is
unambiguous: two different rows never encode alike. The seed is the fingerprint of how rows
merge (the attributes with their declared types, in config order, and the blank rule):
the first 8 bytes of its BLAKE2b digest, big-endian. A config change so makes every row a
candidate once, at no cost per row.

A changed row is taken for unchanged only if its hash equals one of the stored ones by
chance: about (rows sent) x (stored users) / 2^64 per import, 5 x 10^-10 for a 1% change
of 1M users. The 64 bits are stored as a signed BIGINT (both databases' integer).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

HASH = "_hash"  # the column, in the integration's table and in a file's attribute set


def fingerprint(types: dict[str, str], clear_blanks: bool) -> str:
    """How a row's values are merged into the store: part of every hash, so a change re-diffs all rows."""
    return json.dumps({"attributes": list(types.items()), "blank": "clear" if clear_blanks else "keep"})


def seed(types: dict[str, str], clear_blanks: bool) -> int:
    """The XXH3 seed: the fingerprint's BLAKE2b digest, 8 bytes, as an unsigned integer."""
    digest = hashlib.blake2b(fingerprint(types, clear_blanks).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


SEPARATOR = "\x00"


MASK_BITS = 63  # fields per no-value mask (an Int64 never overflows)


def _masks(columns: list[str]) -> list[pl.Expr]:
    import polars as pl

    groups = [columns[i : i + MASK_BITS] for i in range(0, len(columns), MASK_BITS)]
    return [
        pl.sum_horizontal(pl.col(c).is_null().cast(pl.Int64) * (1 << k) for k, c in enumerate(group)).cast(pl.String)
        for group in groups
    ]


def encode(user_id: str | None, values: list[str | None]) -> bytes:
    """One row's encoding, in plain Python: the definition `row_hash` computes, for tests and audits."""
    fields = [user_id, *values]
    masks = [
        str(sum(1 << k for k, v in enumerate(fields[i : i + MASK_BITS]) if v is None))
        for i in range(0, len(fields), MASK_BITS)
    ]
    return SEPARATOR.join([*("" if v is None else v for v in fields), *masks]).encode("utf-8")


def encoded(types: dict[str, str]) -> pl.Expr:
    """The expression of a row's encoding over `user_id` and a text column per attribute."""
    import polars as pl

    columns = ["user_id", *types]
    return pl.concat_str([*(pl.col(c).fill_null("") for c in columns), *_masks(columns)], separator=SEPARATOR)


def separators(types: dict[str, str]) -> int:
    """How many NUL characters an encoding holds when no value holds one."""
    fields = 1 + len(types)
    return fields + -(-fields // MASK_BITS) - 1


def hash_of(encoding: pl.Expr, types: dict[str, str], clear_blanks: bool) -> pl.Expr:
    """The hash (Int64, `HASH`) of an `encoded` row."""
    import polars_hash  # noqa: F401  (registers the `nchash` namespace on expressions)

    hashed: pl.Expr = encoding.nchash.xxh3_64(seed=seed(types, clear_blanks))  # type: ignore[attr-defined]
    return hashed.reinterpret(signed=True).alias(HASH)


def row_hash(types: dict[str, str], clear_blanks: bool) -> pl.Expr:
    """The expression of a row's hash (Int64, `HASH`) over `user_id` and a text column per attribute."""
    return hash_of(encoded(types), types, clear_blanks)
