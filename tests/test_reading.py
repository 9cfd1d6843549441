from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from inbound.config.sections import Format
from inbound.errors import BadFile, Problem
from inbound.reading.compression import GZIP_MAGIC, gunzip, inflate
from inbound.reading.header import detect_delimiter
from inbound.reading.reader import read_batches, read_table
from inbound.reading.records import FIELD_COUNT_COLUMN, SOURCE_LINE_COLUMN


def read_frame(data: bytes, fmt: Format) -> pl.DataFrame:
    return read_table(data, fmt).frame.drop(SOURCE_LINE_COLUMN, FIELD_COUNT_COLUMN)


def refusal(data: bytes, fmt: Format | None = None, max_bytes: int = 1024 * 1024) -> BadFile:
    with pytest.raises(BadFile) as caught:
        read_table(data, fmt or Format(), max_bytes)
    return caught.value


def test_reads_everything_as_text_with_clean_headers() -> None:
    frame = read_frame(b"\xef\xbb\xbfEmail , Plan\r\na@x.com,0042\r\n", Format())
    assert frame.columns == ["Email", "Plan"]
    assert frame.row(0) == ("a@x.com", "0042")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_detects_delimiter(delimiter: str) -> None:
    data = delimiter.join(["Email", "Plan", "Notes"]) + "\n" + delimiter.join(["a@x", "p", '"x, y; z"']) + "\n"
    frame = read_frame(data.encode(), Format())
    assert frame.columns == ["Email", "Plan", "Notes"]
    assert detect_delimiter(data.splitlines()[0]) == delimiter


def test_quoted_newlines_and_delimiters() -> None:
    frame = read_frame(b'Email,Note\na@x,"line one\nline two, with comma"\n', Format())
    assert frame.item(0, "Note") == "line one\nline two, with comma"


def test_each_record_keeps_its_source_line_and_field_count() -> None:
    table = read_table(b'\nEmail,Note\na@x,"one\ntwo"\nb@x\nc@x,n,extra\n', Format())
    assert table.frame.get_column(SOURCE_LINE_COLUMN).to_list() == [3, 5, 6]  # a blank line before the header
    assert table.frame.get_column(FIELD_COUNT_COLUMN).to_list() == [2, 1, -1]  # -1: more fields than the header
    assert table.frame.item(1, "Note") is None  # a short record is padded with no value, never the marker


def test_declared_encoding() -> None:
    frame = read_frame("Email;Name\na@x;Müller\n".encode("cp1252"), Format(encoding="cp1252"))
    assert frame.item(0, "Name") == "Müller"


def test_undecodable_byte_names_its_line() -> None:
    with pytest.raises(BadFile, match=r"line 3: byte 0xfc is not valid utf-8.*format.encoding") as caught:
        read_frame("Email,Name\na@x,ok\nb@x,Müller\n".encode("cp1252"), Format())
    assert (caught.value.problem, caught.value.line) == (Problem.ENCODING, 3)


@pytest.mark.parametrize(
    ("data", "reason", "problem"),
    [
        (b"", "empty", Problem.EMPTY),
        (b"\n\n", "empty", Problem.EMPTY),
        (b"\x00\x01\x02PK", "binary", Problem.NOT_CSV),
        (b"PK\x03\x04rest", "ZIP archive", Problem.NOT_CSV),
        (b"BZh91AY&SY", "bzip2-compressed", Problem.COMPRESSION),
        (b"Email,Plan\x01\na,b\n", "control characters", Problem.NOT_CSV),
        (b"Email,Email\na,b\n", "the header repeats a name", Problem.HEADER),
        (b"\x1f\x8bnot really gzip", "does not decompress", Problem.COMPRESSION),
    ],
)
def test_bad_files(data: bytes, reason: str, problem: Problem) -> None:
    error = refusal(data)
    assert reason in str(error) and error.problem is problem


def test_a_duplicated_header_name_is_placed() -> None:
    with pytest.raises(BadFile) as caught:
        read_table(b"\nEmail,Plan,Email\na,b,c\n", Format(), columns=("Email", "Plan"))
    error = caught.value
    assert (error.problem, error.line, error.column) == (Problem.HEADER, 2, "Email")
    assert "line 2: the header repeats a name: 'Email' is in columns 1 and 3" in str(error)


@pytest.mark.parametrize("columns", [(), ("Email", "Plan")])
def test_a_repeated_value_in_a_headerless_first_line_is_named_by_position_never_quoted(columns) -> None:
    """A file without a header line: its first row is values, and a value may repeat (issue 24, 6)."""
    with pytest.raises(BadFile) as caught:
        read_table(b"SECRETVAL1,x,SECRETVAL1,y,y\nb@x,free,3,4,5\n", Format(), columns=columns)
    message = str(caught.value)
    assert "SECRETVAL1" not in message and "'y'" not in message and caught.value.column is None
    assert "columns 1 and 3" in message and "columns 4 and 5" in message
    assert ("does the export have a header line?" in message) is bool(columns)  # only a config can tell


def test_a_quote_that_swallows_the_rest_is_malformed() -> None:
    error = refusal(b'Email,Note,N\na,ok,0\nb,"x\nc,y,1\nd,z"\n')  # the last record: short, full of lines
    assert "line 3: a quote opened in this record is never closed" in str(error)
    assert (error.problem, error.line) == (Problem.MALFORMED, 3)
    error = refusal(b'Email,Note\na@x,ok\nb@x,"never closed\nc@x,swallowed\n')  # polars itself gave up, lineless
    assert "line 3: a value starts with a quote" in str(error) and (error.problem, error.line) == (Problem.MALFORMED, 3)


def test_size_limits_hold_before_and_after_decompression() -> None:
    body = b"Email\n" + b"a@x\n" * 1000
    assert refusal(body, max_bytes=1000).problem is Problem.TOO_LARGE
    bomb = refusal(gzip.compress(body), max_bytes=1000)
    assert "decompresses to more than" in str(bomb) and bomb.problem is Problem.TOO_LARGE
    assert b"".join(inflate([gzip.compress(body)], len(body))) == body


def test_gunzip_stops_at_the_limit_and_reads_streams() -> None:
    body = b"0123456789" * 1000
    packed = gzip.compress(body)
    whole = gunzip([packed], len(body))
    assert (whole.data, whole.over_limit, whole.ended) == (body, False, True)
    head = gunzip([packed[i : i + 100] for i in range(0, len(packed), 100)], 25)
    assert (head.data, head.over_limit, head.ended) == (body[:25], True, False)
    cut = gunzip([packed[: len(packed) // 2]], len(body))  # a truncated upload: what came out, not ended
    assert body.startswith(cut.data) and not cut.over_limit and not cut.ended


def export(rows: int = 30) -> bytes:
    return b"Email,Plan\n" + b"".join(b"user%d@example.com,plan %d\n" % (i, i) for i in range(rows))


def test_a_gzip_cut_anywhere_fails_the_file() -> None:
    """Whatever byte an upload stops at (inside the header, the data or the trailer), the file fails."""
    packed = gzip.compress(export())
    for cut in range(len(GZIP_MAGIC), len(packed)):
        error = refusal(packed[:cut])
        assert error.problem is Problem.COMPRESSION, cut
        assert "truncated" in str(error) or "does not decompress" in str(error), cut
    assert read_table(packed, Format()).rows == 30
    truncated = refusal(packed[: len(packed) // 2])
    assert "ends before the end of its gzip stream (truncated" in str(truncated)


def test_every_member_of_a_multi_member_gzip_is_read() -> None:
    first, second = export(3), b"".join(b"more%d@example.com,p\n" % i for i in range(4))
    packed = gzip.compress(first) + gzip.compress(second)
    assert b"".join(inflate([packed], 1024 * 1024)) == first + second
    assert read_table(packed, Format()).rows == 7
    streamed = gunzip([packed[i : i + 7] for i in range(0, len(packed), 7)], 1024 * 1024)
    assert (streamed.data, streamed.over_limit, streamed.ended) == (first + second, False, True)
    assert b"".join(inflate([packed + b"\x00" * 512], 1024 * 1024)) == first + second  # zero padding, as gzip(1)
    assert refusal(packed + b"garbage").problem is Problem.COMPRESSION
    assert refusal(packed + gzip.compress(b"x")[:12]).problem is Problem.COMPRESSION  # a last member cut short


def test_gunzip_says_ended_only_when_the_whole_stream_was_seen() -> None:
    packed = gzip.compress(b"a" * 100) + gzip.compress(b"b" * 100)
    head = gunzip([packed], 150)  # the head discovery samples: over the limit, so not the whole stream
    assert (head.data, head.over_limit, head.ended) == (b"a" * 100 + b"b" * 50, True, False)
    member = len(packed) // 2
    cut = gunzip([packed[: member + 5]], 1000)  # the first member and the start of the second
    assert (cut.data, cut.ended) == (b"a" * 100, False)
    first = gunzip([packed[:member]], 1000)  # cut exactly after a member: a whole, valid gzip stream
    assert (first.data, first.ended) == (b"a" * 100, True)


def test_a_gzip_bomb_is_refused_while_inflating_without_holding_it() -> None:
    """A 1 MB gzip of 1.1 GB is refused at the default limit, in bounded memory (peak RSS, own process)."""
    script = textwrap.dedent(
        """
        import re, zlib
        from inbound.errors import BadFile, Problem
        from inbound.reading.compression import inflate
        from inbound.reading.reader import DEFAULT_MAX_BYTES
        squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
        start = squeeze.compress(b"Email,Plan\\n") + squeeze.flush(zlib.Z_FULL_FLUSH)
        block = squeeze.compress(bytes(1024 * 1024)) + squeeze.flush(zlib.Z_FULL_FLUSH)  # repeatable
        bomb = start + block * 1100
        assert len(bomb) < 1_200_000
        def peak():  # this process's own peak RSS in MB (ru_maxrss also counts the parent's, from the fork)
            with open("/proc/self/status") as status:
                return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) // 1024
        before = peak()
        try:
            for _ in inflate([bomb], DEFAULT_MAX_BYTES):  # as the import reads it
                pass
        except BadFile as exc:
            assert exc.problem is Problem.TOO_LARGE and "decompresses to more than" in str(exc)
        else:
            raise AssertionError("the bomb was not refused")
        print(before, peak())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300)
    before_mb, peak_mb = map(int, done.stdout.split())
    assert peak_mb - before_mb < 150 and peak_mb < 400, (before_mb, peak_mb)  # was 2.1 GB


def test_a_bomb_of_many_gzip_members_is_refused() -> None:
    members = gzip.compress(b"x" * 1024 * 1024) * 40
    assert len(members) < 50_000
    error = refusal(members, max_bytes=32 * 1024 * 1024)
    assert error.problem is Problem.TOO_LARGE
    assert gunzip([members], 5 * 1024 * 1024).over_limit


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16"])
def test_a_nul_byte_anywhere_fails_the_file_with_its_line(encoding: str) -> None:
    """PostgreSQL text cannot hold NUL: a NUL byte, also far past the first 64 KiB, fails the file."""
    text = export(5000).decode() + "late@example.com,p\x00q\n"
    assert len(text) > 2 * 65536
    error = refusal(text.encode(encoding), Format(encoding="cp1252" if encoding == "cp1252" else "utf-8"), 2**24)
    assert (error.problem, error.line) == (Problem.NOT_CSV, 5002)
    assert "NUL" in str(error) and "p\x00q" not in str(error)


def test_a_huge_header_field_fails_the_file() -> None:
    error = refusal(b"Email,Plan," + b"x" * 200_000 + b"\na@x,p,q\n", max_bytes=2**24)
    assert error.problem is Problem.HEADER and error.line == 1
    assert "x" * 100 not in str(error)


@pytest.mark.parametrize("name", ["__line", "__fields", "__end", "__bad", "__raw_plan", "user_id", "line"])
def test_header_names_never_collide_with_the_readers_own_columns(name: str) -> None:
    table = read_table(f"Email,{name},Plan\na@x,v1,p1\nb@x,v2,p2\n".encode(), Format())
    assert table.header == ["Email", name, "Plan"]
    assert table.frame.get_column(name).to_list() == ["v1", "v2"]
    assert table.frame.get_column(SOURCE_LINE_COLUMN).to_list() == [2, 3]
    assert table.frame.get_column(FIELD_COUNT_COLUMN).to_list() == [3, 3]


def test_a_header_that_does_not_parse_fails_the_file_with_its_line() -> None:
    """Found by the whole-path fuzz: `""Email` read as `Email` by one parser and `"Emai` by the other."""
    with pytest.raises(BadFile) as caught:
        read_table(b'\n""Email,Plan\nada@x,pro\n', Format())
    assert caught.value.problem == Problem.HEADER and caught.value.line == 2


def test_header_names_with_doubled_quotes_read_as_csv_says() -> None:
    table = read_table(b'Email,"Said ""hi""",Plan\nada@x,yes,pro\n', Format())
    assert table.header == ["Email", 'Said "hi"', "Plan"]
    assert table.frame.get_column('Said "hi"').to_list() == ["yes"]


@pytest.mark.parametrize(
    "body",
    [
        b'ada@x,"said "hi"", twice"\n',  # the closing quote of "said " and text after it
        b'ada@x,"ab"x"y,z"\n',  # polars would read abxy,z
        b'ada@x,"ab" ,c\n',
    ],
)
def test_text_after_a_closing_quote_fails_the_file_with_its_line(body: bytes) -> None:
    with pytest.raises(BadFile) as caught:
        read_table(b"Email,Notes\nbob@x,fine\n" + body, Format())
    assert caught.value.problem == Problem.MALFORMED and caught.value.line == 3
    assert "closing quote" in caught.value.message


def test_a_literal_quote_inside_an_unquoted_value_reads_as_written() -> None:
    table = read_table(b'Email,Note\nada@x,He said "hi" today\nbob@x,x"y"z\n', Format())
    assert table.frame.get_column("Note").to_list() == ['He said "hi" today', 'x"y"z']


LONE_QUOTES = ['O"Brien', '24"', '27" 4K', "5'11\"", 'ab""', ' "quoted"', 'a"b"c"']


@pytest.mark.parametrize("end", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("value", LONE_QUOTES)
def test_a_lone_quote_inside_an_unquoted_value_is_a_literal(value: str, end: str) -> None:
    """Issue 25, item 1: only a quote at a value's start opens a quoted value; any other is a
    literal character, as Python's csv, Excel and spreadsheets read `24"` and `O"Brien`."""
    text = f'Email,Size,N{end}ada@x,{value},1{end}bob@x,{value}{end}cy@x,{value},3{end}dan@x,"q""{end}x",4{end}'
    table = read_table(text.encode(), Format())
    assert table.frame.get_column("Size").to_list() == [value, value, value, 'q"\nx']
    assert table.frame.get_column("N").to_list() == ["1", None, "3", "4"]
    assert table.frame.get_column(SOURCE_LINE_COLUMN).to_list() == [2, 3, 4, 5]
    assert table.frame.get_column(FIELD_COUNT_COLUMN).to_list() == [3, 2, 3, 3]


def test_a_lone_quote_never_hides_a_delimiter_or_a_line_break() -> None:
    """Unquoted, `"` opens nothing: the delimiter and the line end after it still count."""
    table = read_table(b'Email,A,B\nada@x,He said "hi, there",1\nbob@x,5\'11",2\ncy@x,6\'1",3\n', Format())
    assert table.frame.get_column("A").to_list() == ['He said "hi', "5'11\"", "6'1\""]
    assert table.frame.get_column("B").to_list() == [' there"', "2", "3"]
    assert table.frame.get_column(FIELD_COUNT_COLUMN).to_list() == [-1, 3, 3]  # 4 fields: one too many


def test_a_header_name_with_a_lone_quote_reads_as_csv_says() -> None:
    table = read_table(b"Email,Height 5'11\",Size\nada@x,yes,no\n", Format())
    assert table.header == ["Email", "Height 5'11\"", "Size"]
    assert table.frame.row(0)[:3] == ("ada@x", "yes", "no")


def test_lone_quotes_in_every_batch_read_as_one_table() -> None:
    """Batches cut between records whatever the quotes: every row, every line, any batch size."""
    rows = [f'u{i}@x,{i}" screen,"a, {i}\nb"\n' if i % 7 == 0 else f'u{i}@x,O"Brien {i},{i}\n' for i in range(400)]
    data = ("Email,Size,Note\n" + "".join(rows)).encode()
    whole = read_table(data, Format()).frame
    assert whole.height == 400 and whole.item(1, "Size") == 'O"Brien 1' and whole.item(7, "Note") == "a, 7\nb"
    for batch_bytes in (64, 1000, 4096):
        tables = list(read_batches([data[i : i + 100] for i in range(0, len(data), 100)], Format(), 2**20, batch_bytes))
        assert pl.concat([t.frame for t in tables]).equals(whole), batch_bytes


@pytest.mark.parametrize(
    ("after", "says"),
    [
        (b"", "a value starts with a quote, which opens a quoted value, and it is never closed"),
        (b"cy@x,fine,3\n" * 3, "a value starts with a quote, which opens a quoted value, and it is never closed"),
        (b'cy@x,O"Brien,3\n' * 3, "text after the closing quote of a quoted value (it opens here and closes on line 4"),
    ],
    ids=["at the end", "then lines", "then a lone quote"],
)
def test_a_quote_at_a_values_start_never_closed_names_its_line(after: bytes, says: str) -> None:
    """Where the reader cannot tell where a record ends, it names the line where the trouble starts."""
    error = refusal(b'Email,Note,N\nada@x,24",1\nbob@x,"never closed,2\n' + after)
    assert (error.problem, error.line) == (Problem.MALFORMED, 3)
    assert str(error).startswith(f"line 3: {says}"), str(error)
