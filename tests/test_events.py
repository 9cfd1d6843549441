from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest

from inbound.events.notifications import MAX_MESSAGE_BYTES, Created, announced, created, files_for
from inbound.s3.layout import S3File


def record(key: str, event: str = "ObjectCreated:Put", bucket: str = "acme", time: str = "2026-12-01T10:00:00.000Z"):
    return {
        "eventSource": "aws:s3",
        "eventName": event,
        "eventTime": time,
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key), "eTag": "e1", "size": 3}},
    }


def message(*records) -> str:
    return json.dumps({"Records": list(records)})


def test_a_key_with_a_space_and_a_plus_is_decoded() -> None:
    body = message(record("crm/users 1+2.csv"))
    assert "users+1%2B2.csv" in body  # as S3 sends it
    assert created(body) == [Created("acme", "crm/users 1+2.csv", "2026-12-01T10:00:00.000Z", "e1")]


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "acme"}),
        message(record("crm/a.csv", event="ObjectRemoved:Delete")),
        message({**record("crm/a.csv"), "eventSource": "aws:sqs"}),
        message({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": "nonsense"}),
        "not json",
        "[1, 2]",
        json.dumps({"Records": "x"}),
        json.dumps({"Records": [record("crm/a.csv")], "pad": "x" * MAX_MESSAGE_BYTES}),
    ],
)
def test_test_events_other_events_and_stray_messages_say_nothing(body: str) -> None:
    assert created(body) == []


def test_an_sns_envelope_is_unwrapped() -> None:
    body = json.dumps({"Type": "Notification", "Message": message(record("crm/a.csv"))})
    assert [c.key for c in created(body)] == ["crm/a.csv"]


def test_only_this_sources_files_oldest_first_each_once() -> None:
    objects = created(
        message(
            record("crm/users_2.csv", time="2026-12-01T10:00:02Z"),
            record("crm/users_1.csv", time="2026-12-01T10:00:01Z"),
            record("crm/success/20261201T100000Z_users_1.csv", time="2026-12-01T10:00:03Z"),  # our move
            record("crm/failed/20261201T100000Z_users_0.csv.error.txt", time="2026-12-01T10:00:03Z"),  # our report
            record("crm/users_1.csv", time="2026-12-01T10:00:04Z"),  # overwritten: the latest event counts
            record("crm/users_3.csv", bucket="other"),
            record("hr/users_4.csv"),
        )
    )
    chosen = files_for(objects, "acme", "crm/users_*.csv")
    assert [(c.key, c.time) for c in chosen] == [
        ("crm/users_2.csv", "2026-12-01T10:00:02Z"),
        ("crm/users_1.csv", "2026-12-01T10:00:04Z"),
    ]


def test_a_marker_of_the_sources_folders_counts_and_others_do_not() -> None:
    objects = created(
        message(
            record("exports/2026-12-01/_SUCCESS"),
            record("exports/2026-12-01/deep/_SUCCESS"),  # not one of the pattern's folders
            record("other/_SUCCESS"),
            record("exports/2026-12-01/notes.txt"),
        )
    )
    assert [c.key for c in files_for(objects, "acme", "exports/*/users.csv", marker="_SUCCESS")] == [
        "exports/2026-12-01/_SUCCESS"
    ]
    assert files_for(objects, "acme", "exports/*/users.csv") == []  # without a marker, a marker is nothing


def _listed(*keys: str) -> list[S3File]:
    return [S3File("acme", key, "e", 1, "2026-12-01T10:00:00+00:00") for key in keys]


def test_a_run_takes_exactly_the_listed_files_its_events_named() -> None:
    listed = _listed("crm/users_1.csv", "crm/users_2.csv", "crm/users 3+4.csv")
    payloads = [
        {"files": [{"bucket": "acme", "key": "crm/users_1.csv"}]},
        {"files": [{"bucket": "acme", "key": "crm/users 3+4.csv"}, {"bucket": "acme", "key": "crm/gone.csv"}]},
        {"files": [{"bucket": "other", "key": "crm/users_2.csv"}]},  # another bucket's object of that name
        None,
        {"files": "nonsense"},
        {"files": [{"key": 3}, "x"]},
    ]
    # users_2.csv is named by no event here, but it is older than users 3+4.csv and still waiting.
    assert [f.key for f in announced(listed, payloads)] == ["crm/users_1.csv", "crm/users_2.csv", "crm/users 3+4.csv"]
    assert [f.key for f in announced(listed, payloads[:1])] == ["crm/users_1.csv"]
    assert announced(listed, []) == []  # a done file's event: nothing listed is named, nothing to do


def test_a_run_for_a_newer_file_takes_the_older_files_still_waiting_first() -> None:
    """Two events, two overlapping runs: the second run's newer file must never be written
    before the first run's older one (CI saw the older value win). The run for the newer file
    takes both, oldest first; the newer file's run alone never skips ahead."""
    listed = [
        S3File("acme", "crm/export_1.csv", "e1", 1, "2026-12-01T10:00:00+00:00"),
        S3File("acme", "crm/export_2.csv", "e2", 1, "2026-12-01T10:00:05+00:00"),
        S3File("acme", "crm/export_3.csv", "e3", 1, "2026-12-01T10:00:09+00:00"),
    ]
    second = [{"files": [{"bucket": "acme", "key": "crm/export_2.csv"}]}]
    assert [f.key for f in announced(listed, second)] == ["crm/export_1.csv", "crm/export_2.csv"]
    first = [{"files": [{"bucket": "acme", "key": "crm/export_1.csv"}]}]
    assert [f.key for f in announced(listed, first)] == ["crm/export_1.csv"]  # never a newer file unasked


def test_a_markers_event_takes_the_complete_files_of_its_folder() -> None:
    listed = _listed("exports/a/users.csv", "exports/b/users.csv")
    payloads = [{"files": [{"bucket": "acme", "key": "exports/a/_SUCCESS"}]}]
    assert [f.key for f in announced(listed, payloads, marker="_SUCCESS")] == ["exports/a/users.csv"]
    assert announced(listed, payloads) == []


def _with_object(obj: object, **fields: object) -> str:
    """One ObjectCreated record whose `s3.object` (and any record field) is exactly what is given."""
    rec: dict[str, object] = {**record("crm/a.csv"), **fields}
    rec["s3"] = {"bucket": {"name": "acme"}, "object": obj}
    return json.dumps({"Records": [rec]})


@pytest.mark.parametrize(
    "body",
    [
        _with_object({"key": "crm/users_\ud800.csv"}),  # a lone surrogate: no S3 key, and no UTF-8 either
        _with_object({"key": "crm/a.csv", "eTag": "\udfff"}),
        _with_object({"key": "crm/a.csv"}, eventTime="2026\ud800"),
        _with_object({"key": 5}),
        _with_object({"key": None}),
        _with_object({"key": ["crm/a.csv"]}),
        _with_object({"key": {"crm/a.csv": 1}}),
        _with_object("crm/a.csv"),
        _with_object({"key": "crm/" + "a" * 1100 + ".csv"}),  # past S3's 1,024 bytes: no S3 key
        _with_object({"key": "crm/a.csv"}, eventName=["ObjectCreated:Put"]),
        "[" * 100_000 + "]" * 100_000,  # json.loads -> RecursionError
        json.dumps({"Type": "Notification", "Message": "[" * 50_000 + "]" * 50_000}),
        "",
        "\ud800",
    ],
    ids=lambda body: body[:40],
)
def test_a_forged_or_stray_message_is_nothing_and_never_raises(body: str) -> None:
    assert created(body) == []


def test_a_bad_record_does_not_hide_the_good_ones_beside_it() -> None:
    forged = {**record("crm/x.csv"), "s3": {"bucket": {"name": "acme"}, "object": {"key": 5}}}
    assert [c.key for c in created(message(forged, record("crm/b.csv")))] == ["crm/b.csv"]
