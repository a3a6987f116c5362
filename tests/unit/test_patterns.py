from fractions import Fraction

import pytest

from tasder_plugin import NMPattern, TASDSeries


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2:4", "2:4"),
        (" 2:4 + 1:8 ", "2:4+1:8"),
        ("DENSE", "dense"),
        ("4:4", "4:4"),
        ("1:1", "1:1"),
    ],
)
def test_parse_and_format_round_trip(text, expected):
    series = TASDSeries.parse(text)
    assert str(series) == expected
    assert TASDSeries.parse(str(series)) == series


@pytest.mark.parametrize("bad, token", [
    ("5:4", "5:4"), ("0:4", "0:4"), ("2:0", "2:0"), ("2/4", "2/4"), ("a:b", "a:b"),
    ("2:4+1:x", "1:x"), ("-1:4", "-1:4"), ("2:4:8", "2:4:8"),
])  # fmt: skip
def test_parse_rejects_bad_tokens_naming_them(bad, token):
    with pytest.raises(ValueError) as err:
        TASDSeries.parse(bad)
    message = str(err.value)
    assert repr(token) in message
    assert "'n:m'" in message and "keep n of every m" in message


@pytest.mark.parametrize("bad", ["", "   ", "2:4+", "+2:4", "2:4++1:8"])
def test_parse_rejects_empty_terms(bad):
    with pytest.raises(ValueError, match="empty"):
        TASDSeries.parse(bad)


def test_parse_rejects_non_strings():
    with pytest.raises(TypeError):
        TASDSeries.parse(24)
    with pytest.raises(TypeError):
        NMPattern(2.0, 4)


def test_pattern_validation_says_keep():
    with pytest.raises(ValueError, match="keep 5 of every 4"):
        NMPattern(5, 4)


def test_max_density_is_an_upper_bound_of_the_kept_fraction():
    assert NMPattern(2, 4).density == Fraction(1, 2)
    assert TASDSeries.parse("2:4+1:8").max_density == Fraction(5, 8)
    assert TASDSeries.parse("2:4+2:4").max_density == 1
    assert TASDSeries.parse("3:4+3:4").max_density == 1
    assert TASDSeries.parse("dense").max_density == 1


def test_equality_hash_and_order():
    a, b = TASDSeries.parse("2:4+1:8"), TASDSeries.parse("2:4 + 1:8")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert NMPattern(1, 8) < NMPattern(1, 4) < NMPattern(2, 4) < NMPattern(4, 4)
    ordered = sorted(TASDSeries.parse(s) for s in ["2:4+1:8", "dense", "1:8", "2:4"])
    assert [str(s) for s in ordered] == ["1:8", "2:4", "2:4+1:8", "dense"]


def test_dense_series():
    dense = TASDSeries.parse("dense")
    assert dense.is_dense and len(dense) == 0 and dense == TASDSeries.dense()
    assert not TASDSeries.parse("4:4").is_dense  # one pass, but a pattern all the same
    assert NMPattern(4, 4).is_dense
