"""Reading what people type, and the shared formats of the pages."""

import pytest

from fnhost import errors
from fnhost.console import forms, templating, urls
from fnhost.services.activity import percentile


def test_pairs_read_key_value_lines_and_name_the_bad_line() -> None:
    assert forms.pairs("A=1\n\n B = two=2 \n", what="Env") == {"A": "1", "B": "two=2"}
    assert forms.pairs("  \n", what="Env") is None
    with pytest.raises(errors.InvalidInput, match="Env, line 2: write KEY=VALUE"):
        forms.pairs("A=1\nno equals", what="Env")
    with pytest.raises(errors.InvalidInput, match="'A' is given twice"):
        forms.pairs("A=1\nA=2", what="Env")


def test_json_values_and_numbers_are_strict() -> None:
    assert forms.json_value(' {"x": [1]} ', what="Data") == {"x": [1]}
    assert forms.json_value("", what="Data", empty={}) == {}
    with pytest.raises(errors.InvalidInput, match=r"Data is not valid JSON: .* line 1, column"):
        forms.json_value("{'x': 1}", what="Data")
    assert forms.optional_number(" ", what="CPU") is None
    assert forms.optional_number("0.5", what="CPU") == 0.5
    with pytest.raises(errors.InvalidInput, match="CPU must be a number"):
        forms.optional_number("half", what="CPU")


def test_durations_and_relative_times_read_naturally() -> None:
    assert [templating.duration(ms) for ms in (None, 850, 4200, 192_000, 7_500_000)] == [
        "—",
        "850 ms",
        "4.2 s",
        "3 min 12 s",
        "2 h 5 min",
    ]
    assert templating.ago(0, now=90_000) == "1 min ago"
    assert templating.ago(7_200_000, now=0) == "in 2 h"
    assert templating.when(0) == "1970-01-01 00:00:00 UTC"


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50, 95)
    assert percentile([7], 0.95) == 7


def test_project_names_are_quoted_and_only_local_paths_are_returned_to() -> None:
    assert urls.function("a b/c", 3) == "/console/p/a%20b%2Fc/functions/3"
    assert urls.runs("p", status="Failed", function="") == "/console/p/p/runs?status=Failed"
    assert urls.is_local("/console/p/x")
    assert not urls.is_local("//elsewhere.example/console")
    assert not urls.is_local("https://elsewhere.example/console")
