"""Where the wizard's discovery may read: the places the caller's integrations land files.

Discovery in the web API (`POST /api/discover`) samples other people's data with an AWS
connection that reaches far more than one export: every integration's folder, the done
folders (moved files, and reports holding rejected rows with their values), other buckets,
the staging location (attribute sets: personal data). So the API asks a `Scope` before
it reads, and again for every key it would list, read or suggest:

- never a done folder (`success/` or `failed/` anywhere in the folder, as `inbound.config.model`
  refuses them in a source key): moved files and their reports are no landing place;
- never the staging location (`INBOUND_STAGING_URL`, when it is in S3);
- only in the buckets of the integrations the caller may edit, or under a landing folder
  the deployment opens (`INBOUND_DISCOVERY_PREFIXES`);
- never inside another integration's folder (the deepest folder a source key pattern lies
  in belongs to the integrations reading there), nor a key another integration's pattern
  matches, unless an integration the caller may edit reads there too (a shared file).

A refusal says where the caller may read, never what lies in the place refused. The CLI
(`inbound discover`) runs with the operator's own access and asks no `Scope`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlparse

from inbound.config.model import Integration
from inbound.errors import DiscoveryError
from inbound.s3.layout import DONE_FOLDERS, has_wildcards, key_pattern, listing_prefix

_SHOWN = 200  # characters of a URI a message repeats


class OutOfScope(DiscoveryError):
    """The caller may not sample this place (the API answers 403)."""


@dataclass(frozen=True)
class Landing:
    """Where one integration reads: its bucket, the folder of its key pattern, the pattern."""

    bucket: str
    folder: str  # the literal folder before the pattern's first wildcard: "" (the root) or ending in "/"
    pattern: re.Pattern[str]
    editable: bool  # the caller may edit this integration's DAG


def folder_of(key: str) -> str:
    """The folder of a key or a pattern's literal prefix: "" or ending in "/"."""
    return key[: key.rfind("/") + 1]


def s3_staging(url: str) -> tuple[str, str] | None:
    """(bucket, prefix "" or ending in "/") of an `s3://` staging location; None for a local folder."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        return None
    prefix = parsed.path.strip("/")
    return parsed.netloc, f"{prefix}/" if prefix else ""


@dataclass(frozen=True)
class Scope:
    """The places one caller's discovery may sample (see the module's docstring)."""

    buckets: frozenset[str]  # the buckets of the integrations the caller may edit
    prefixes: tuple[tuple[str, str], ...]  # (bucket, folder) the deployment opens (INBOUND_DISCOVERY_PREFIXES)
    landings: tuple[Landing, ...]  # every loaded integration's, the caller's or not
    staging: tuple[str, str] | None  # (bucket, prefix) of INBOUND_STAGING_URL in S3

    @classmethod
    def of(
        cls,
        integrations: Iterable[Integration],
        editable: Collection[str],
        prefixes: Iterable[tuple[str, str]],
        staging_url: str,
    ) -> Scope:
        """The scope of a caller who may edit the integrations named in `editable`, among all loaded ones."""
        landings = tuple(
            Landing(
                i.source.bucket,
                folder_of(listing_prefix(i.source.key)),
                key_pattern(i.source.key),
                i.name in editable,
            )
            for i in integrations
        )
        buckets = frozenset(landing.bucket for landing in landings if landing.editable)
        return cls(buckets, tuple(prefixes), landings, s3_staging(staging_url))

    def check(self, bucket: str, key: str) -> None:
        """Raise unless the caller may sample s3://bucket/key (for a pattern: list its literal folder).

        `DiscoveryError` (400) for a key no export has, `OutOfScope` (403) for a place refused.
        """
        uri = f"s3://{bucket}/{key}"[:_SHOWN]
        if {".", ".."} & set(key.split("/")):
            raise DiscoveryError(
                f"{uri}: a key with a '.' or '..' segment names no export (some S3 servers resolve it "
                "into another folder); give the key as the bucket lists it"
            )
        if set(key.split("/")[:-1]) & set(DONE_FOLDERS):
            raise OutOfScope(
                f"{uri}: a success/ or failed/ folder holds files runs have moved and their reports "
                "(rejected rows with their values), never a new export, and a source key never points "
                "into one; sample the export where it lands, before a run moves it"
            )
        path = folder_of(listing_prefix(key)) if has_wildcards(key) else key
        if not self._open(bucket, path) or (path == key and self._theirs(bucket, key)):
            raise OutOfScope(self._elsewhere(uri))

    def allows(self, bucket: str, key: str) -> bool:
        """Whether a listed key may be read or named: filters a pattern's files and the keys suggested."""
        try:
            self.check(bucket, key)
        except DiscoveryError:
            return False
        return True

    def _open(self, bucket: str, path: str) -> bool:
        """In the caller's buckets or an opened landing folder; outside staging and others' folders."""
        if self.staging is not None and bucket == self.staging[0] and path.startswith(self.staging[1]):
            return False
        opened = bucket in self.buckets or any(bucket == b and path.startswith(p) for b, p in self.prefixes)
        return opened and not self._owned_elsewhere(bucket, path)

    def _owned_elsewhere(self, bucket: str, path: str) -> bool:
        """The deepest integration folder holding `path` is only other integrations' folder."""
        here = [landing for landing in self.landings if landing.bucket == bucket and path.startswith(landing.folder)]
        if not here:
            return False
        deepest = max(len(landing.folder) for landing in here)
        return not any(landing.editable for landing in here if len(landing.folder) == deepest)

    def _theirs(self, bucket: str, key: str) -> bool:
        """One of another integration's files (its pattern matches), and none of the caller's."""
        matching = [landing for landing in self.landings if landing.bucket == bucket and landing.pattern.match(key)]
        return bool(matching) and not any(landing.editable for landing in matching)

    def _elsewhere(self, uri: str) -> str:
        """The refusal for a place outside the scope: where the caller may sample, and how to open a place."""
        places = [f"s3://{b}/" for b in sorted(self.buckets)] + [f"s3://{b}/{p}" for b, p in self.prefixes]
        return (
            f"{uri}: discovery samples exports only where the integrations you may edit land files "
            f"({', '.join(places) or 'none'}), outside other integrations' folders and the staging "
            "location; to sample a new landing place, ask an admin to add its folder to "
            "INBOUND_DISCOVERY_PREFIXES"
        )
