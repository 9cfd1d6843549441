"""The row content hash: pinned values, so a polars (or plugin) upgrade that changed them fails here."""

from __future__ import annotations

import polars as pl
import xxhash

from inbound.store.row_hash import HASH, encode, fingerprint, row_hash, seed

TYPES = {"plan": "string", "seats": "integer", "since": "date"}
ROWS = [
    ("ada@example.com", "premium", "12", "2021-10-25"),
    ("bob@example.com", None, "1", None),
    ("Zoë Ünicode", 'café, "quoted"\nline', "", None),  # an empty text is a value, not none
    ("n@x", None, None, None),
]
# XXH3-64 (seeded by how rows merge) of each row's encoding, as signed 64-bit. Computed once with the reference
# implementation (`xxhash`); they must never change: a store keeps them across upgrades.
PINNED_KEEP = [3037652726750304249, 2999719015076228350, -7469781852858601286, -7474531412551510425]


def hashes(types: dict[str, str], clear_blanks: bool) -> list[int]:
    frame = pl.DataFrame(ROWS, schema=["user_id", *types], orient="row")
    return frame.select(row_hash(types, clear_blanks)).get_column(HASH).to_list()


def reference(types: dict[str, str], clear_blanks: bool) -> list[int]:
    """The same hashes from the plain-Python encoding and the reference XXH3 (unsigned -> signed)."""
    out = []
    for user_id, *values in ROWS:
        digest = xxhash.xxh3_64_intdigest(encode(user_id, values), seed=seed(types, clear_blanks))
        out.append(digest - 2**64 if digest >= 2**63 else digest)
    return out


def test_known_rows_have_their_pinned_hashes() -> None:
    assert hashes(TYPES, False) == PINNED_KEEP


def test_the_polars_expression_is_the_reference_xxh3_of_the_documented_encoding() -> None:
    assert hashes(TYPES, False) == reference(TYPES, False)
    assert hashes(TYPES, True) == reference(TYPES, True)


def test_the_encoding_tells_no_value_from_an_empty_or_shifted_one() -> None:
    assert encode("u", [None, "x"]) != encode("u", ["", "x"])
    assert encode("u", ["n", None]) != encode("u", [None, "n"])
    assert len(set(hashes(TYPES, False))) == len(ROWS)


def test_how_rows_merge_is_part_of_every_hash() -> None:
    # Another blank rule, another type, another order: every row is compared again once.
    assert set(hashes(TYPES, True)).isdisjoint(hashes(TYPES, False))
    retyped = {**TYPES, "seats": "string"}
    assert set(hashes(retyped, False)).isdisjoint(hashes(TYPES, False))
    reordered = {"seats": "integer", "plan": "string", "since": "date"}
    assert fingerprint(reordered, False) != fingerprint(TYPES, False)


def test_more_fields_than_one_mask_holds_still_match_the_reference() -> None:
    types = {f"a{i}": "string" for i in range(70)}  # 71 fields: two masks
    values = [None if i % 3 == 0 else str(i) for i in range(70)]
    got = pl.DataFrame([("u", *values)], schema=["user_id", *types], orient="row").select(row_hash(types, False)).item()
    digest = xxhash.xxh3_64_intdigest(encode("u", values), seed=seed(types, False))
    assert got == (digest - 2**64 if digest >= 2**63 else digest)
