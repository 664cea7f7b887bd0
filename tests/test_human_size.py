"""human_size: the one way sizes are written for a reader (IEC units, 1 KiB = 1024 B)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.store.message_view import SIZE_UNITS, human_size


@pytest.mark.parametrize(
    ("octets", "text"),
    [
        (0, "0 B"),
        (532, "532 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1229, "1.2 KiB"),
        (20 * 1024, "20.0 KiB"),
        (1024**2 - 52, "1023.9 KiB"),
        (1024**2 - 1, "1.0 MiB"),  # 1023.999 KiB would read 1024.0 KiB
        (int(3.4 * 1024**2), "3.4 MiB"),
        (25 * 1024**3, "25.0 GiB"),
    ],
)
def test_sizes_read_as_people_write_them(octets: int, text: str) -> None:
    assert human_size(octets) == text


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        human_size(-1)


@given(st.integers(min_value=1024, max_value=1024**6))
def test_the_number_is_under_1024_of_its_unit_and_close_to_the_size(octets: int) -> None:
    number, unit = human_size(octets).split(" ")
    scale = 1024 ** (SIZE_UNITS.index(unit) + 1)
    assert 1.0 <= float(number) < 1024
    assert abs(float(number) * scale - octets) <= 0.05 * scale * (1 + 1e-9)  # float error
