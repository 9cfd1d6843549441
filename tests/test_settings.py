"""Deployment settings from the environment: one reader for every number, one message when it is wrong."""

from __future__ import annotations

import pytest

from inbound.mapping.mapper import max_value_bytes
from inbound.settings import grace_intervals, number_setting, staging_root


def test_a_number_setting_has_its_default_its_value_and_a_clear_refusal(monkeypatch) -> None:
    monkeypatch.delenv("INBOUND_TEST_NUMBER", raising=False)
    assert number_setting("INBOUND_TEST_NUMBER", 7, minimum=1) == 7
    monkeypatch.setenv("INBOUND_TEST_NUMBER", " 12 ")
    assert number_setting("INBOUND_TEST_NUMBER", 7, minimum=1) == 12
    for bad in ("0", "-3", "lots", "1.5"):
        monkeypatch.setenv("INBOUND_TEST_NUMBER", bad)
        with pytest.raises(ValueError, match=r"INBOUND_TEST_NUMBER=.* is not a whole number of at least 1"):
            number_setting("INBOUND_TEST_NUMBER", 7, minimum=1)
    monkeypatch.setenv("INBOUND_TEST_NUMBER", "x" * 10_000)
    with pytest.raises(ValueError) as error:
        number_setting("INBOUND_TEST_NUMBER", 7, minimum=1)
    assert len(str(error.value)) < 200  # the value is echoed short


def test_the_settings_read_through_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("INBOUND_SHARED_GRACE_INTERVALS", "0.5")
    assert grace_intervals() == 0.5
    monkeypatch.setenv("INBOUND_SHARED_GRACE_INTERVALS", "-1")
    with pytest.raises(ValueError, match="INBOUND_SHARED_GRACE_INTERVALS='-1' is not a number of at least 0"):
        grace_intervals()
    monkeypatch.setenv("INBOUND_MAX_VALUE_BYTES", "0")
    with pytest.raises(ValueError, match="INBOUND_MAX_VALUE_BYTES"):
        max_value_bytes()
    monkeypatch.setenv("INBOUND_STAGING_DIR", str(tmp_path))
    assert staging_root() == tmp_path
