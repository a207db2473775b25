"""The leakage guard: 13-token overlap for long questions, token substring for short ones, CJK."""

from __future__ import annotations

from carr_agent.tools.leakage import LeakageGuard, tokenize

LONG_Q = ("Which mixed martial arts event held before 2022 featured a featherweight bout in which the "
          "winner landed 14 significant strikes?")


def test_tokens_are_lowercase_words_and_single_cjk_characters() -> None:
    assert tokenize("UFC-219: Cyborg's ＦＵＬＬ width") == ["ufc", "219", "cyborg", "s", "full", "width"]
    assert tokenize("東京は日本ABC") == ["東", "京", "は", "日", "本", "abc"]


def test_long_question_leaks_when_13_tokens_are_quoted() -> None:
    guard = LeakageGuard([LONG_Q])
    quoted = ("Forum post: which MIXED martial arts event, held before 2022, featured a featherweight "
              "bout in which... anyone know?")
    assert guard.is_leaked(quoted)  # punctuation and case differ, 13 tokens shared


def test_long_question_does_not_leak_on_12_shared_tokens() -> None:
    guard = LeakageGuard([LONG_Q])
    twelve = " ".join(tokenize(LONG_Q)[:12])
    assert not guard.is_leaked(f"Intro. {twelve} and then something else entirely.")
    assert guard.is_leaked(" ".join(tokenize(LONG_Q)[3:16]))


def test_short_question_leaks_as_a_substring_on_token_boundaries() -> None:
    guard = LeakageGuard(["Who refereed UFC 219?"])
    assert guard.is_leaked("Trivia: who refereed UFC 219 -- answer inside")
    assert not guard.is_leaked("Who refereed UFC 2190 events?")
    assert not guard.is_leaked("UFC 219 was refereed by Herb Dean.")


def test_cjk_question_leaks_character_by_character() -> None:
    long_zh = "哪一位综合格斗运动员在二零一七年的比赛中以一致判定击败了霍尔姆并卫冕冠军"
    assert len(tokenize(long_zh)) >= 13
    guard = LeakageGuard([long_zh])
    assert guard.is_leaked("新闻：在二零一七年的比赛中以一致判定击败了霍尔姆，引起热议")
    assert not guard.is_leaked("霍尔姆是一名美国拳击手")
    short = LeakageGuard(["东京是首都吗"])
    assert short.is_leaked("问题：东京 是 首都吗？")
    assert not short.is_leaked("东京是日本的首都")


def test_empty_guard_hides_nothing() -> None:
    guard = LeakageGuard(["", "   ", "?!"])
    assert not guard
    assert not guard.is_leaked("anything at all")
    assert not LeakageGuard([]).is_leaked("text")


def test_any_of_several_forbidden_strings_counts() -> None:
    guard = LeakageGuard(["first secret question", LONG_Q])
    assert guard.is_leaked("the FIRST secret question is here")
    assert guard.any_leaked([None, "", "x " + LONG_Q])
    assert not guard.any_leaked(["nothing", None])
