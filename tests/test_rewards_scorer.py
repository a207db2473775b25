"""CarrScorer orchestration with a scripted judge (the LLM stand-in) and the deterministic judge."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from carr_agent.errors import ConfigError, JudgeError
from carr_agent.rewards.judges import DeterministicJudge, Judge, OutcomeVerdict
from carr_agent.rewards.scorer import CarrScorer, ScoreOptions
from carr_agent.types import LedgerRecord, Task
from carr_agent.urls import source_id

URL = "https://en.wikipedia.org/wiki/UFC_219"

# The paper's Fig. 2 example: 8 rubrics; E1-E3 unidentified so R1-R5 fail; R6-R8 supported.
RUBRICS = (
    "<E0> featured a featherweight bout between <E1> and <E2>.",
    "<E1> landed 14 significant strikes out of 83 attempted in <E0>.",
    "<E3> was the referee of the bout between <E1> and <E2>.",
    "<E3> worked his first event for the same promotion in 1994.",
    "<E2> won the bout by decision.",
    "<E0> is an MMA event that occurred before 2022.",
    "<E0> was held in Las Vegas.",
    "<E0> was headlined by a women's featherweight title fight.",
)
TASK = Task(id="t1", question="Which MMA event ...?", label="UFC 219", rubrics=RUBRICS)
ANSWER = (
    "## Explanation with Citations\nThe event is UFC 219, held in Las Vegas in 2017 "
    f"[[1]({URL})].\n## Exact Answer\nUFC 219\n## References\n[1] {URL}"
)


def rec(url: str, text: str, kind: str = "open") -> LedgerRecord:
    return LedgerRecord(source_id=source_id(url), url=url, title="UFC 219", kind=kind, step=1,
                        text=text, start=None, end=None)


LEDGER = [rec(URL, "UFC 219 was an MMA event held on December 30, 2017 in Las Vegas.")]


class ScriptedJudge:
    """Stands in for an LLM: fixed identifications, support by substring, fixed outcome."""

    def __init__(self, values, *, supported=lambda s: True, correct=True, fail=()) -> None:
        self.values, self.supported, self.correct, self.fail = values, supported, correct, fail
        self.calls: list[str] = []
        self.evidence: list[str] = []

    async def identify_entities(self, question, rubrics, answer, *, task=None):
        self.calls.append("identify")
        if "identify" in self.fail:
            raise JudgeError("identify: transport down")
        return dict(self.values)

    async def judge_support(self, evidence: str, statements: Sequence[str], *, task=None):
        self.calls.append("support")
        self.evidence.append(evidence)
        if "support" in self.fail:
            raise JudgeError("support: invalid output after retries")
        return [self.supported(s) for s in statements]

    async def judge_outcome(self, question, answer, label, *, task=None):
        self.calls.append("outcome")
        if "outcome" in self.fail:
            raise JudgeError("outcome: timeout")
        return OutcomeVerdict(extracted_answer="UFC 219", correct=self.correct)


PAPER_VALUES = {"E0": "UFC 219", "E1": None, "E2": None, "E3": None}


def test_paper_worked_example_scores_three_of_eight() -> None:
    judge = ScriptedJudge(PAPER_VALUES)
    assert isinstance(judge, Judge)
    result = CarrScorer(judge, ScoreOptions(alpha=0.3)).score(TASK, ANSWER, LEDGER)
    assert result.rubric_reward == 3 / 8
    assert result.outcome_reward == 1.0
    assert result.reward == pytest.approx(0.7 + 0.3 * 0.375)
    assert [s.score for s in result.rubric_scores] == [0, 0, 0, 0, 0, 1, 1, 1]
    first, sixth = result.rubric_scores[0], result.rubric_scores[5]
    assert not first.all_entity_identified and first.is_supported is False
    assert first.filled_rubric == "UFC 219 featured a featherweight bout between <E1> and <E2>."
    assert first.entity_values == {"E0": "UFC 219", "E1": None, "E2": None}
    assert sixth.filled_rubric == "UFC 219 is an MMA event that occurred before 2022."
    assert sixth.is_supported and sixth.connected_to_answer
    assert sorted(judge.calls) == ["identify", "outcome", "support"]
    assert "URL Source: https://en.wikipedia.org/wiki/UFC_219" in judge.evidence[0]


def test_supported_rubric_disconnected_from_e0_scores_zero() -> None:
    rubrics = ("<E0> is an MMA event.", "<E1> was the referee.", "Las Vegas hosts events.")
    task = Task(id="t", question="q", label="UFC 219", rubrics=rubrics)
    judge = ScriptedJudge({"E0": "UFC 219", "E1": "Herb Dean"})
    result = CarrScorer(judge).score(task, ANSWER, LEDGER)
    assert [s.is_supported for s in result.rubric_scores] == [True, True, True]
    assert [s.connected_to_answer for s in result.rubric_scores] == [True, False, False]
    assert result.rubric_reward == pytest.approx(1 / 3)
    ablation = CarrScorer(judge, ScoreOptions(connectivity=False)).score(task, ANSWER, LEDGER)
    assert ablation.rubric_reward == 1.0


def test_citations_only_in_references_give_no_evidence_and_no_support_call() -> None:
    answer = f"## Explanation with Citations\nUFC 219.\n## Exact Answer\nUFC 219\n## References\n[1]({URL})"
    judge = ScriptedJudge(PAPER_VALUES)
    result = CarrScorer(judge).score(TASK, answer, LEDGER)
    assert result.rubric_reward == 0.0 and result.reward == pytest.approx(0.7)
    assert "support" not in judge.calls
    assert all(s.is_supported is False for s in result.rubric_scores)


def test_citation_to_never_seen_url_supports_nothing() -> None:
    answer = ANSWER.replace(URL, "https://never-opened.org/page")
    judge = ScriptedJudge(PAPER_VALUES)
    result = CarrScorer(judge).score(TASK, answer, LEDGER)
    assert result.rubric_reward == 0.0 and "support" not in judge.calls


def test_url_variants_in_citations_match_the_ledger() -> None:
    answer = ANSWER.replace(URL, "http://www.EN.wikipedia.org/wiki/UFC_219/#Results")
    result = CarrScorer(ScriptedJudge(PAPER_VALUES)).score(TASK, answer, LEDGER)
    assert result.rubric_reward == 3 / 8


def test_judge_failures_are_unknown_not_zero_and_other_component_survives() -> None:
    support_down = CarrScorer(ScriptedJudge(PAPER_VALUES, fail=("support",))).score(
        TASK, ANSWER, LEDGER)
    assert support_down.rubric_reward is None and support_down.reward is None
    assert support_down.outcome_reward == 1.0 and support_down.unknown
    assert support_down.errors == ("support judge failed: support: invalid output after retries",)
    assert support_down.rubric_scores[5].is_supported is None

    identify_down = CarrScorer(ScriptedJudge(PAPER_VALUES, fail=("identify",))).score(
        TASK, ANSWER, LEDGER)
    assert identify_down.rubric_reward is None and identify_down.outcome_reward == 1.0
    assert identify_down.errors[0].startswith("entity identification failed")

    outcome_down = CarrScorer(ScriptedJudge(PAPER_VALUES, fail=("outcome",))).score(
        TASK, ANSWER, LEDGER)
    assert outcome_down.outcome_reward is None and outcome_down.rubric_reward == 3 / 8
    assert outcome_down.reward is None


def test_alpha_zero_skips_rubric_judging_and_alpha_one_skips_outcome() -> None:
    judge = ScriptedJudge(PAPER_VALUES)
    r0 = CarrScorer(judge, ScoreOptions(alpha=0.0)).score(TASK, ANSWER, LEDGER)
    assert judge.calls == ["outcome"]
    assert r0.reward == 1.0 and r0.rubric_reward is None and r0.errors == ()
    judge = ScriptedJudge(PAPER_VALUES)
    r1 = CarrScorer(judge, ScoreOptions(alpha=1.0)).score(TASK, ANSWER, LEDGER)
    assert "outcome" not in judge.calls
    assert r1.reward == 3 / 8 and r1.outcome_reward is None and not r1.unknown


def test_no_rubrics_gives_rubric_reward_zero() -> None:
    task = Task(id="t", question="q", label="UFC 219")
    judge = ScriptedJudge({})
    result = CarrScorer(judge).score(task, ANSWER, LEDGER)
    assert result.rubric_reward == 0.0 and result.reward == pytest.approx(0.7)
    assert judge.calls == ["outcome"]


def test_identification_and_outcome_run_concurrently() -> None:
    started: list[str] = []
    both = asyncio.Event()

    class Slow(ScriptedJudge):
        async def identify_entities(self, *a, **k):
            started.append("identify")
            if len(started) == 2:
                both.set()
            await asyncio.wait_for(both.wait(), 1)
            return await super().identify_entities(*a, **k)

        async def judge_outcome(self, *a, **k):
            started.append("outcome")
            if len(started) == 2:
                both.set()
            await asyncio.wait_for(both.wait(), 1)
            return await super().judge_outcome(*a, **k)

    result = CarrScorer(Slow(PAPER_VALUES)).score(TASK, ANSWER, LEDGER)
    assert result.rubric_reward == 3 / 8


async def test_ascore_many_keeps_order_and_isolates_bad_items() -> None:
    scorer = CarrScorer(ScriptedJudge(PAPER_VALUES), ScoreOptions(concurrency=2))
    bad_answer_task = Task(id="bad", question="q", label="x", rubrics=RUBRICS)
    items = [(TASK, ANSWER, LEDGER), (TASK, "no citations", LEDGER), (bad_answer_task, ANSWER, LEDGER)]
    results = await scorer.ascore_many(items)
    assert [r.rubric_reward for r in results] == [3 / 8, 0.0, 3 / 8]


def test_score_options_are_validated() -> None:
    for bad in ({"alpha": -0.1}, {"max_cited_urls": 0}, {"evidence_mode": "x"}, {"concurrency": 0}):
        with pytest.raises(ConfigError):
            ScoreOptions(**bad)


# -- the deterministic judge end to end --------------------------------------------------------

GOLD_TASK = Task(
    id="g1",
    question="Which MMA event ...?",
    label="UFC 219: Cyborg vs. Holm",
    rubrics=(
        "<E0> is an MMA event held in Las Vegas.",
        "<E0> featured a featherweight bout between <E1> and <E2>.",
        "<E1> landed <E3> significant strikes in <E0>.",
        "<E4> was the referee of <E0>.",
    ),
    entities={"E0": "UFC 219", "E1": "Holly Holm", "E2": "Cris Cyborg", "E3": "14",
              "E4": "Herb Dean"},
    metadata={"aliases": {"E0": ["UFC 219: Cyborg vs. Holm"], "E2": ["Cristiane Justino"]}},
)
GOLD_LEDGER = [
    rec(URL, "UFC 219: Cyborg vs. Holm was a mixed martial arts event held in Las Vegas. "
             "The card featured a featherweight bout between Cristiane Justino and Holly Holm.",
        kind="search"),
    rec("https://stats.org/fight", "Holly Holm landed 14.0 significant strikes at UFC 219."),
]
GOLD_ANSWER = (
    "## Explanation with Citations\nThe event is UFC 219 [1](https://en.wikipedia.org/wiki/UFC_219), "
    "a featherweight bout between Holly Holm and Cris Cyborg [1](https://en.wikipedia.org/wiki/UFC_219). "
    "Holm landed 14 significant strikes [2](https://stats.org/fight/).\n"
    "## Exact Answer\nUFC 219: Cyborg vs. Holm\n## References\n- Herb Dean refereed."
)


def test_deterministic_judge_scores_gold_task() -> None:
    result = CarrScorer(DeterministicJudge()).score(GOLD_TASK, GOLD_ANSWER, GOLD_LEDGER)
    got = [(s.all_entity_identified, s.is_supported, s.score) for s in result.rubric_scores]
    # E4 (Herb Dean) only appears after ## References → unidentified
    assert got == [(True, True, 1), (True, True, 1), (True, True, 1), (False, False, 0)]
    assert result.rubric_scores[2].filled_rubric == "Holly Holm landed 14 significant strikes in UFC 219."
    assert result.outcome_reward == 1.0
    assert result.extracted_answer == "UFC 219: Cyborg vs. Holm"
    assert result.rubric_reward == 0.75


async def test_deterministic_support_requires_entities_and_content_in_evidence() -> None:
    judge = DeterministicJudge(entities={"E0": "UFC 219", "E1": "Holly Holm"})
    evidence = "Holly Holm fought at UFC 219 in Las Vegas, Nevada."
    verdicts = await judge.judge_support(evidence, [
        "UFC 219 was held in Las Vegas.",          # entity + content present
        "UFC 219 was held in Sydney, Australia.",  # content mostly absent
        "Holly Holm fought at UFC 220.",           # every number must be in the evidence
        "Amanda Nunes fought Holly Holm in Brazil.",  # 1/4 content tokens → below 0.6
    ])
    assert verdicts == [True, False, False, False]


async def test_deterministic_outcome_matches_numbers_and_aliases() -> None:
    judge = DeterministicJudge(label_aliases=("one thousand two hundred thirty-four",))
    ok = await judge.judge_outcome("q", "## Exact Answer\n1,234.0\n", "1234")
    alias = await judge.judge_outcome("q", "## Exact Answer\nOne thousand two hundred thirty four", "1234")
    wrong = await judge.judge_outcome("q", "## Exact Answer\n1235", "1234")
    missing = await judge.judge_outcome("q", "The answer is 1234.", "1234")
    assert (ok.correct, alias.correct, wrong.correct) == (True, True, False)
    assert missing == OutcomeVerdict(extracted_answer=None, correct=False)


async def test_deterministic_judge_without_gold_values_is_unknown() -> None:
    task = Task(id="t", question="q", label="UFC 219", rubrics=("<E1> refereed <E0>.",))
    with pytest.raises(JudgeError, match="E1"):
        await DeterministicJudge().identify_entities("q", task.rubrics, "x", task=task)
    result = await CarrScorer(DeterministicJudge()).ascore(task, ANSWER, LEDGER)
    assert result.rubric_reward is None and result.outcome_reward == 1.0 and result.unknown


def test_relevant_evidence_mode_shortens_long_sources_for_the_support_judge() -> None:
    filler = " ".join(f"Unrelated sentence {i} about weather." for i in range(600))
    ledger = [rec(URL, filler + " UFC 219 was an MMA event held in Las Vegas in 2017. " + filler)]
    full_judge, rel_judge = ScriptedJudge(PAPER_VALUES), ScriptedJudge(PAPER_VALUES)
    full = CarrScorer(full_judge).score(TASK, ANSWER, ledger)
    rel = CarrScorer(rel_judge, ScoreOptions(evidence_mode="relevant", relevant_budget=800)).score(
        TASK, ANSWER, ledger)
    assert full.rubric_reward == rel.rubric_reward == 3 / 8
    assert len(full_judge.evidence[0]) > 40_000 and len(rel_judge.evidence[0]) < 1_500
    assert "held in Las Vegas in 2017" in rel_judge.evidence[0]
    scorer = CarrScorer(ScriptedJudge(PAPER_VALUES))
    assert scorer.evidence_context(ANSWER, ledger) == full_judge.evidence[0]


async def test_sync_wrapper_inside_a_running_loop_says_to_await() -> None:
    with pytest.raises(RuntimeError, match="await the a-methods"):
        CarrScorer(ScriptedJudge(PAPER_VALUES)).score(TASK, ANSWER, LEDGER)
