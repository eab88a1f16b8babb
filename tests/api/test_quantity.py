"""Kubernetes quantities as the scheduler counts them."""

from __future__ import annotations

import pytest

from mixfleet.api import quantity


@pytest.mark.parametrize("text, millis", [
    pytest.param("100m", 100, id="millicores"),
    pytest.param("1", 1000, id="one-core"),
    pytest.param(2, 2000, id="integer"),
    pytest.param(0.5, 500, id="float"),
    pytest.param("1.5", 1500, id="decimal"),
    pytest.param("0.1m", 1, id="sub-milli-rounds-up"),
    pytest.param("1k", 1_000_000, id="kilo"),
])
def test_cpu_millis(text: str | int | float, millis: int) -> None:
    """CPU quantities become whole millicores."""
    assert quantity.cpu_millis(text) == millis


@pytest.mark.parametrize("text, nbytes", [
    pytest.param("128Mi", 134217728, id="mebibytes"),
    pytest.param("1Gi", 2**30, id="gibibytes"),
    pytest.param("1G", 10**9, id="gigabytes"),
    pytest.param("1.5Gi", 1610612736, id="fraction"),
    pytest.param("1e3", 1000, id="exponent"),
    pytest.param(512, 512, id="plain-bytes"),
    pytest.param("0.5", 1, id="fraction-of-byte-rounds-up"),
])
def test_memory_bytes(text: str | int, nbytes: int) -> None:
    """Memory quantities become whole bytes."""
    assert quantity.memory_bytes(text) == nbytes


@pytest.mark.parametrize("bad, message", [
    pytest.param("abc", 'invalid quantity "abc"', id="word"),
    pytest.param("", 'invalid quantity ""', id="empty"),
    pytest.param("1Mi1", 'invalid quantity "1Mi1"', id="trailing"),
    pytest.param("1KB", 'invalid quantity "1KB"', id="bad-suffix"),
    pytest.param("1K", 'invalid quantity "1K"', id="upper-k"),
    pytest.param(" 1", 'invalid quantity " 1"', id="whitespace"),
    pytest.param("NaN", 'invalid quantity "NaN"', id="nan"),
    pytest.param("-1", 'invalid quantity "-1": must not be negative', id="negative"),
    pytest.param(True, 'invalid quantity "True": must be a string or a number', id="boolean"),
    pytest.param(None, 'invalid quantity "None": must be a string or a number', id="none"),
])
def test_bad_quantities(bad: object, message: str) -> None:
    """Malformed or negative quantities raise ValueError naming the value."""
    with pytest.raises(ValueError) as info:
        quantity.parse(bad)  # type: ignore[arg-type]
    assert str(info.value) == message


@pytest.mark.parametrize("millis, text", [(0, "0"), (250, "250m"), (1000, "1"), (1500, "1500m"), (4000, "4")])
def test_format_cpu(millis: int, text: str) -> None:
    """Millicores print as users write them."""
    assert quantity.format_cpu(millis) == text
    assert quantity.cpu_millis(text) == millis


@pytest.mark.parametrize("nbytes, text", [(0, "0"), (134217728, "128Mi"), (2**30, "1Gi"), (1536 * 2**20, "1536Mi"),
                                          (1000, "1000"), (1024, "1Ki")])
def test_format_memory(nbytes: int, text: str) -> None:
    """Bytes print with the largest exact binary suffix and parse back to the same number."""
    assert quantity.format_memory(nbytes) == text
    assert quantity.memory_bytes(text) == nbytes


def test_format_negative_is_an_error() -> None:
    """Negative amounts cannot be formatted."""
    with pytest.raises(ValueError):
        quantity.format_cpu(-1)
    with pytest.raises(ValueError):
        quantity.format_memory(-1)
