"""find_in_text: exact (case-insensitive) matches first, fuzzy fallback, exact offsets."""

from __future__ import annotations

import pytest

from carr_agent.errors import ConfigError
from carr_agent.tools.find import find_in_text

TEXT = (
    "UFC 219: Cyborg vs. Holm was a mixed martial arts event held on December 30, 2017. "
    "The event took place at T-Mobile Arena in Paradise, Nevada.\n\n"
    "Results\nCris Cyborg defeated Holly Holm by unanimous decision (49–46, 49–46, 48–47). "
    "Khabib Nurmagomedov defeated Edson Barboza by unanimous decision.\n"
    "Referee: Herb Dean worked the main event."
)


def assert_exact(text: str, matches) -> None:
    for m in matches:
        assert text[m.start : m.end] == m.text


def test_exact_matches_are_case_insensitive_in_page_order_with_offsets() -> None:
    matches = find_in_text(TEXT, "UNANIMOUS decision", context=10)
    assert len(matches) == 2
    assert matches[0].start < matches[1].start
    assert all("unanimous decision" in m.text for m in matches)
    assert_exact(TEXT, matches)


def test_context_is_cut_on_word_boundaries_around_the_match() -> None:
    [m] = find_in_text(TEXT, "Herb Dean", context=12)
    assert m.text == "Referee: Herb Dean worked the"
    assert_exact(TEXT, [m])


def test_pattern_whitespace_matches_any_whitespace_in_the_page() -> None:
    [m] = find_in_text(TEXT, "Nevada.   Results", context=0)
    assert m.text == "Nevada.\n\nResults"


def test_matches_inside_a_shown_window_are_not_repeated() -> None:
    text = "holm holm holm " + "x " * 300 + "holm"
    matches = find_in_text(text, "holm", context=20)
    assert len(matches) == 2
    assert_exact(text, matches)


def test_max_matches_bounds_the_result() -> None:
    text = " ".join(f"item{i} needle" + " filler" * 60 for i in range(30))
    assert len(find_in_text(text, "needle", context=5, max_matches=7)) == 7


def test_fuzzy_finds_a_misspelt_pattern_when_nothing_matches_exactly() -> None:
    matches = find_in_text(TEXT, "Khabib Nurmagomedow defeatd", context=10)
    assert matches
    assert "Khabib Nurmagomedov defeated" in matches[0].text
    assert_exact(TEXT, matches)


def test_fuzzy_can_be_turned_off_and_unrelated_patterns_match_nothing() -> None:
    assert find_in_text(TEXT, "Khabib Nurmagomedow defeatd", fuzzy=False) == []
    assert find_in_text(TEXT, "quantum chromodynamics lattice") == []
    assert find_in_text(TEXT, "zq") == []  # too short for fuzzy


def test_exact_matches_win_over_fuzzy_ones() -> None:
    matches = find_in_text(TEXT, "Holly Holm", context=0)
    assert [m.text for m in matches] == ["Holly Holm"]


def test_unicode_text_keeps_exact_offsets() -> None:
    text = "İstanbul und Straße — 東京都是日本的首都。 İSTANBUL again"
    matches = find_in_text(text, "首都", context=3)
    assert_exact(text, matches)
    assert "首都" in matches[0].text
    assert_exact(text, find_in_text(text, "straße", context=4))


@pytest.mark.parametrize("kwargs", [{"pattern": "  "}, {"pattern": "x", "context": -1},
                                    {"pattern": "x", "max_matches": 0}])
def test_bad_arguments_raise_config_error(kwargs) -> None:
    with pytest.raises(ConfigError):
        find_in_text(TEXT, **kwargs)
