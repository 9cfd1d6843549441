"""A file read in small batches means exactly what it means read whole.

Batch sizes here are bytes, not megabytes, so every record of a small export sits on a
boundary: quoted line breaks, ragged rows, blank lines, CRLF, the same user ID in two
batches, line numbers, the rejected ratio and mirror mode over the whole file.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BUCKET, integration_dict
from corpus import ATTRIBUTES, Case, cases
from inbound.config.model import Integration
from inbound.errors import BadFile
from inbound.mapping.mapper import map_table
from inbound.mapping.rejects import rejected_by_kind
from inbound.pipeline.batches import map_file
from inbound.reading.reader import read_table
from test_pipeline import keys, make_run, put, run

BATCHES = (8, 61, 400)  # bytes: far smaller than a record, about a record, a few records


def corpus_config(case: Case) -> Integration:
    base = {
        "name": "corpus",
        "schedule": "@daily",
        "source": {"bucket": BUCKET, "key": "exports/*"},
        "user_id": {"column": "Email"},
        "attributes": ATTRIBUTES,
    }
    return Integration.model_validate({**base, **case.config})


def in_pieces(data: bytes, size: int = 7) -> list[bytes]:
    """The bytes as a stream delivers them: pieces that cut characters, lines and gzip blocks."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def canonical(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.rows(), key=repr)


def whole(data: bytes, integration: Integration) -> tuple:
    """The file read whole (the reference): set, rejects, counts; or the refusal."""
    try:
        mapped = map_table(read_table(data, integration.format, integration.max_bytes), integration)
    except BadFile as exc:
        return ("refused", exc.problem, exc.line, str(exc))
    by_kind = tuple(rejected_by_kind(mapped.rejects.lazy())) if mapped.rejects.height else ()
    report = canonical(pl.concat([mapped.rejects, mapped.skipped]))  # the report lists repeated headers too
    return (mapped.frame.rows(), report, mapped.rows_read, mapped.rows_rejected, by_kind, mapped.headers_skipped)


def batched(data: bytes, integration: Integration, batch: int) -> tuple:
    with tempfile.TemporaryDirectory() as folder:
        try:
            spool = map_file(in_pieces(data), integration, Path(folder), batch)
        except BadFile as exc:
            return ("refused", exc.problem, exc.line, str(exc))
        rows = [row for part in spool.sets for row in pl.read_parquet(part).rows()]
        rejects = pl.concat([pl.read_parquet(p) for p in spool.rejects]) if spool.rejects else pl.DataFrame()
        lines = rejects.get_column("line").to_list() if rejects.height else []
        assert lines == sorted(lines), "rejected rows are in line order across batches"
        found = (rows, canonical(rejects), spool.rows_read, spool.rows_rejected, spool.rejected_by)
        return (*found, spool.headers_skipped)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_every_corpus_file_means_the_same_in_batches(case: Case, batch: int) -> None:
    integration = corpus_config(case)
    batch = max(batch, len(case.data) // 50)  # at most ~50 batches: a large case gains nothing from more
    assert batched(case.data, integration, batch) == whole(case.data, integration)


FIELD = st.text(alphabet='ab,"\n\r ;é\t', max_size=8)
IDS = st.sampled_from(["ada", "bob", "cy", "", " dee "])


@st.composite
def exports(draw: st.DrawFn) -> bytes:
    """Exports whose records cross boundaries every way: quoted line breaks, stray quotes, short and long rows."""
    rows = draw(st.lists(st.tuples(IDS, FIELD, FIELD, st.integers(1, 4)), max_size=30))
    lines = ["Email,Plan,Notes"]
    for user, plan, note, width in rows:
        fields = [user, plan, note, "x"][:width]
        lines.append(",".join('"' + f.replace('"', '""') + '"' if any(c in f for c in ',"\n\r') else f for f in fields))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    text = terminator.join(lines) + draw(st.sampled_from(["", terminator, terminator * 2]))
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-16"])))
    return gzip.compress(data) if draw(st.booleans()) else data


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=exports(), batch=st.integers(1, 120))
def test_any_export_means_the_same_in_batches_of_any_size(data: bytes, batch: int) -> None:
    integration = Integration.model_validate(
        integration_dict(
            "notes",
            attributes=[{"column": "Plan", "name": "plan"}, {"column": "Notes", "name": "notes"}],
            format={"encoding": "utf-16"} if data[:2] in (b"\xff\xfe", b"\xfe\xff") else {},
        )
    )
    assert batched(data, integration, batch) == whole(data, integration)


def test_a_record_longer_than_the_bound_fails_the_file_with_its_line(monkeypatch, tmp_path) -> None:
    """A quote opened mid-file and never closed: the batch may not grow without end (reading.MIN_RECORD_BYTES)."""
    from inbound.reading import reader as reading

    monkeypatch.setattr(reading, "MIN_RECORD_BYTES", 200)
    rows = [f"user{i}@x,p,n" for i in range(5)] + ['open@x,"never closed,n']
    rows += [f"more{i}@x,p,n" for i in range(6000)]  # past the 64 KiB looked at whole to tell what a file is
    data = ("Email,Plan,Notes\n" + "\n".join(rows) + "\n").encode()
    integration = Integration.model_validate(integration_dict("notes", attributes=[{"column": "Plan", "name": "plan"}]))
    with pytest.raises(BadFile, match="line 7: a record longer than") as refused:
        map_file(in_pieces(data), integration, tmp_path, 50)
    assert refused.value.line == 7
    assert whole(data, integration)[0] == "refused"  # read whole, the same file fails too


@pytest.mark.parametrize("batch", [1, 20, 45, 10_000])
def test_a_repeated_header_is_skipped_in_whichever_batch_it_lands(batch: int, tmp_path) -> None:
    """Exports joined with `cat`: each header again (line 4, 7, 10) is skipped, never a user nor a
    rejected row (`Seats` is no integer; `Email` in two batches would be a repeated user ID)."""
    part = "Email,Plan,Seats\n{0}a@x,p,1\n{0}b@x,q,2\n"
    data = "".join(part.format(i) for i in range(4)).encode()
    integration = Integration.model_validate(
        integration_dict(
            "crm",
            attributes=[{"column": "Plan", "name": "plan"}, {"column": "Seats", "name": "seats", "type": "integer"}],
        )
    )
    spool = map_file(in_pieces(data), integration, tmp_path, batch)
    assert (spool.rows_read, spool.rows_rejected, spool.users) == (8, 0, 8)
    assert (spool.headers_skipped, spool.header_lines) == (3, (4, 7, 10))
    assert "Email" not in [u for p in spool.sets for u in pl.read_parquet(p).get_column("user_id")]
    report = pl.concat([pl.read_parquet(p) for p in spool.rejects])
    assert report.get_column("line").to_list() == [4, 7, 10]
    assert report.get_column("user_id").null_count() == 3  # no user ID: mirror mode keeps no one for it


@pytest.fixture
def small_batches(monkeypatch) -> None:
    """About 1 KiB of text per batch (the smallest `INBOUND_BATCH_MB`), through the whole run."""
    monkeypatch.setenv("INBOUND_BATCH_MB", str(1 / 1024))


def export(rows: list[str]) -> str:
    return "Email,Plan,Open Tickets\n" + "".join(f"{row}\n" for row in rows)


FILLER = [f"user{i:04d}@example.com,plan-{i % 7},{i % 5}" for i in range(300)]  # ~9 KB: several batches


def test_the_same_user_in_two_batches_rejects_every_row_of_it(s3, store, crm, small_batches) -> None:
    put(s3, "crm/users_1.csv", export(["twice@x,first,1", *FILLER, "twice@x,second,2"]))
    summary = run(s3, store, crm)
    (result,) = summary.files
    assert result.outcome == "success" and (result.rows_read, result.rows_rejected) == (302, 2)
    assert store.user_attributes("twice@x")["attributes"] == {}
    assert store.user_count("crm") == 300
    report = s3.get_object(Bucket=BUCKET, Key=f"{result.final_key}.rejected.csv")["Body"].read().decode()
    lines = report.splitlines()
    assert lines[1].startswith('2,twice@x,Email,twice@x,"user ID appears 2 times in the file (lines 2, 303)')
    assert lines[2].startswith("303,twice@x,")


def test_a_quoted_value_across_a_boundary_keeps_its_line_breaks_and_every_later_line(
    s3, store, crm, small_batches
) -> None:
    note = "line one\nline two\r\n" + "x" * 1500  # longer than a batch: it must span boundaries
    rows = [*FILLER[:20], f'quoted@x,"{note}",1', *FILLER[20:40], "late@x,p,not a number"]
    put(s3, "crm/users_1.csv", export(rows))
    (result,) = run(s3, store, crm).files
    assert result.outcome == "success" and (result.rows_read, result.rows_rejected) == (42, 1)
    assert store.user_attributes("quoted@x")["attributes"]["plan"] == note.replace("\r\n", "\n")
    report = s3.get_object(Bucket=BUCKET, Key=f"{result.final_key}.rejected.csv")["Body"].read().decode()
    assert report.splitlines()[1].startswith("45,late@x,Open Tickets,not a number,")  # 1 header + 20 + 3 + 20 + 1


def test_the_rejected_ratio_is_decided_over_the_whole_file(s3, store, crm, small_batches) -> None:
    bad = [f"bad{i}@x,p,many" for i in range(60)]  # the last batches only: 60 of 360 rejected
    put(s3, "crm/users_1.csv", export([*FILLER, *bad]))
    strict = crm.model_copy(update={"max_rejected_ratio": 0.1})
    (result,) = run(s3, store, strict).files
    assert result.outcome == "failed" and "60 of 360 rows rejected" in (result.error or "")
    assert store.user_count("crm") == 0 and store.imports("crm")[0].outcome == "failed"
    assert keys(s3, "crm/failed/")  # with its report


def test_mirror_mode_counts_over_the_whole_file(s3, store, crm, small_batches) -> None:
    put(s3, "crm/users_a.csv", export(FILLER))
    run(s3, store, crm)
    put(s3, "crm/users_b.csv", export(FILLER[:150]))
    mirror = crm.model_copy(update={"mode": "mirror", "mirror_max_removed": 0.6})
    (result,) = run(s3, store, mirror).files
    assert result.outcome == "success" and result.write is not None
    assert (result.write.removed, result.write.unchanged) == (150, 150)
    assert store.user_count("crm") == 150
    put(s3, "crm/users_c.csv", export(FILLER[:10]))
    (guarded,) = run(s3, store, mirror).files
    assert guarded.outcome == "failed" and "would remove 140 of 150 users" in (guarded.error or "")
    assert store.user_count("crm") == 150


def test_a_failed_batch_late_in_the_file_leaves_the_store_untouched(s3, store, crm, small_batches) -> None:
    put(s3, "crm/users_a.csv", export(FILLER))
    run(s3, store, crm)
    changed = [row.replace("plan-", "changed-") for row in FILLER]
    put(s3, "crm/users_b.csv", export([*changed, 'cut@x,"never closed,1']))
    (result,) = run(s3, store, crm).files
    assert result.outcome == "failed" and "never closed" in (result.error or "")
    assert store.user_attributes("user0000@example.com")["attributes"]["plan"] == "plan-0"


def test_a_staged_set_in_parts_writes_like_one_frame(s3, store, crm, small_batches) -> None:
    """Many parts, read back one at a time by the store: the counts and values of one frame."""
    put(s3, "crm/users_a.csv", export(FILLER))
    (first,) = run(s3, store, crm).files
    assert first.write is not None and (first.write.inserted, first.write.values_written) == (300, 600)
    put(s3, "crm/users_b.csv", export([row.replace("plan-1", "plan-one") for row in FILLER]))
    dry = make_run(s3, store, crm, dry_run=True)
    from inbound.s3.source import list_new_files

    (preview,) = dry(list_new_files(s3, BUCKET, crm.source.key)).files
    assert preview.write is not None and (preview.write.updated, preview.write.unchanged) == (43, 257)
    assert preview.write.sample[0]["changes"] == {"plan": ["plan-1", "plan-one"]}
    (second,) = run(s3, store, crm).files
    assert second.write is not None and (second.write.updated, second.write.values_written) == (43, 43)
