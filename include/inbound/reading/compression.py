"""The one gzip path: inflate a stream in bounded steps, every member, checked to its end.

The import inflates a file piece by piece as it reads it (`inflate`); `inbound discover`
inflates only the head it samples (`gunzip`). Neither ever holds more than the cap: a gzip
bomb is refused while inflating. A stream cut short (no trailer) is never taken as whole.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from inbound.errors import BadFile, Problem

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Inflated:
    """What came out of a gzip stream, at most `limit` bytes of it."""

    data: bytes
    over_limit: bool  # more than `limit` bytes would have come out: `data` is the first `limit`
    ended: bool  # the whole stream was seen: every member inflated to its end (checked) and no bytes left


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


_INFLATE_STEP = 1024 * 1024  # inflated bytes per step: what inflating holds at a time, whatever the limit
_INPUT_STEP = 64 * 1024  # compressed bytes fed at a time: what zlib's leftover input (copied each step) can be


def _pieces(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if len(chunk) <= _INPUT_STEP:
            yield chunk
        else:
            view = memoryview(chunk)
            for start in range(0, len(chunk), _INPUT_STEP):
                yield bytes(view[start : start + _INPUT_STEP])


def _inflate(chunks: Iterable[bytes], limit: int) -> Iterator[bytes | None]:
    """The inflated bytes of a gzip stream, in pieces of at most `_INFLATE_STEP`.

    Every member is read (several gzip members one after another are one valid gzip
    stream, as `gzip -d` reads it); zero bytes after the last member are padding. Stops
    after at most `limit` + 1 bytes came out. Yields None last when the stream ended
    where it may: after a whole member (its CRC and length checked by zlib), never inside one.
    A stream that is not gzip raises `zlib.error`.
    """
    inflater: zlib._Decompress | None = None  # the current member's; None between members
    size = 0
    for piece in _pieces(chunks):
        pending = piece
        while pending:
            if inflater is None:
                pending = pending.lstrip(b"\x00")  # padding between or after members
                if not pending:
                    break
                inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            out = inflater.decompress(pending, min(_INFLATE_STEP, limit + 1 - size))
            size += len(out)
            if out:
                yield out
            if size > limit:
                return
            if inflater.eof:
                pending, inflater = inflater.unused_data, None
            else:
                pending = inflater.unconsumed_tail
    if inflater is None:
        yield None


def _checked(chunks: Iterable[bytes], limit: int) -> Iterator[bytes | None]:
    """`_inflate`, with a stream that is not gzip after all as `BadFile` (compression)."""
    try:
        yield from _inflate(chunks, limit)
    except zlib.error as exc:
        raise BadFile(
            f"the file starts like gzip but does not decompress ({exc}); re-export it", Problem.COMPRESSION
        ) from None


def gunzip(chunks: Iterable[bytes], limit: int) -> Inflated:
    """Inflate the head of a gzip stream, never holding more than `limit` (+1) inflated bytes.

    Discovery samples a file's head this way; reading stops at the limit, so a gzip bomb
    stays small.
    """
    parts: list[bytes] = []
    size, ended = 0, False
    for out in _checked(chunks, limit):
        if out is None:
            ended = True
            continue
        size += len(out)
        parts.append(out)
    over = size > limit
    return Inflated(b"".join(parts)[:limit], over_limit=over, ended=ended and not over)


def _too_large(max_bytes: int) -> BadFile:
    return BadFile(
        f"the gzip file decompresses to more than {_mb(max_bytes)} (max_file_mb): "
        "an export this large or a gzip bomb; split the export or raise max_file_mb",
        Problem.TOO_LARGE,
    )


def inflate(chunks: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """The inflated bytes of a gzip stream, in pieces of at most 1 MiB, for the streaming import.

    Refuses (`BadFile`) a stream that inflates past `max_bytes` as soon as it does (a gzip
    bomb is never held), one that is not gzip, and, after its last piece, one that ends
    inside a member (cut short): the caller must not treat what came before as a whole file.
    """
    size, ended = 0, False
    for out in _checked(chunks, max_bytes):
        if out is None:
            ended = True
            continue
        size += len(out)
        if size > max_bytes:
            raise _too_large(max_bytes)
        yield out
    if not ended:
        raise BadFile(
            "the file ends before the end of its gzip stream (truncated: an upload or export cut short); "
            "nothing of it is imported: upload the whole file again",
            Problem.COMPRESSION,
        )
