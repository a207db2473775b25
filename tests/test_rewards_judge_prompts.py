"""Judge prompt templates, prompt directories, JudgeConfig, and retries that can differ."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from carr_agent.errors import ConfigError, JudgeOutputError
from carr_agent.retry import Backoff
from carr_agent.rewards.judges import (
    PROMPT_STYLES,
    DeterministicJudge,
    JudgeConfig,
    LLMJudge,
    PromptSet,
    build_judge,
)
from carr_agent.rewards.judges.prompts import (
    PROMPT_FILES,
    parse_entities_output,
    parse_support_output,
)

FAST = Backoff(base_delay=0.0, jitter=False)
QUESTION = "Which town was the composer of the Ember Suite born in?"
RUBRICS = ("<E1> composed the Ember Suite.", "<E1> was born in <E0>.")
ANSWER = "## Explanation with Citations\nTeodor Halvane ... born in Kessmar.\n## Exact Answer\nKessmar"

# Templates written in the reference server's file format (its field names, ``{{``/``}}`` for
# literal braces), with text of our own: loading such a directory must give exactly what
# ``str.format`` gives, as the reference server builds its prompts.
REFERENCE_STYLE = {
    "identify_entity.txt": "Q:\n{question}\nC:\n{constraints}\nR:\n{response}\n```json\n{{\"E0\": ...}}\n```\n",
    "judge_rubric.txt": "Pages:\n{context}\nStatements:\n{statements}\nSummary: {{\"S1\": true}}\n",
    "get_outcome_reward.txt": "[question]: {question}\n[response]: {response}\n[correct_answer]: {correct_answer}\n",
}


def write_dir(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


# -- templates -----------------------------------------------------------------------------------

@pytest.mark.parametrize("style", PROMPT_STYLES)
def test_builtin_styles_fill_every_input_and_name_the_expected_keys(style: str) -> None:
    prompts = PromptSet.builtin(style)
    e = prompts.entities_prompt(QUESTION, RUBRICS, ANSWER)
    assert QUESTION in e and ANSWER in e
    assert "C1. <E1> composed the Ember Suite.\nC2. <E1> was born in <E0>." in e
    assert '"E0", "E1"' in e
    s = prompts.support_prompt("[Webpage 1]\nURL: https://x.org\nborn in Kessmar", ["a.", "b."])
    assert "S1. a.\nS2. b." in s and '"S1", "S2"' in s and "born in Kessmar" in s
    o = prompts.outcome_prompt(QUESTION, ANSWER, "Kessmar")
    assert "extracted_final_answer" in o and "correct" in o and "Kessmar" in o


def test_analysis_style_asks_for_reasoning_before_the_json_and_compact_does_not() -> None:
    analysis = PromptSet.builtin("analysis").entities_prompt(QUESTION, RUBRICS, ANSWER)
    compact = PromptSet.builtin("compact").entities_prompt(QUESTION, RUBRICS, ANSWER)
    assert "Reasoning" in analysis and analysis.index("Reasoning") < analysis.index("Result")
    assert "Reasoning" not in compact and "nothing else" in compact
    assert len(compact) < len(analysis)


def test_a_reference_format_directory_gives_exactly_what_str_format_gives(tmp_path: Path) -> None:
    prompts = PromptSet.from_dir(write_dir(tmp_path, REFERENCE_STYLE))
    constraints = "C1. <E1> composed the Ember Suite.\nC2. <E1> was born in <E0>."
    assert prompts.entities_prompt(QUESTION, RUBRICS, ANSWER) == REFERENCE_STYLE[
        "identify_entity.txt"].format(question=QUESTION, constraints=constraints, response=ANSWER)
    assert prompts.support_prompt("PAGES", ["a.", "b."]) == REFERENCE_STYLE[
        "judge_rubric.txt"].format(context="PAGES", statements="S1. a.\nS2. b.")
    assert prompts.outcome_prompt(QUESTION, ANSWER, "Kessmar") == REFERENCE_STYLE[
        "get_outcome_reward.txt"].format(question=QUESTION, response=ANSWER, correct_answer="Kessmar")


@pytest.mark.skipif(not os.environ.get("CARR_REFERENCE_PROMPTS"),
                    reason="set CARR_REFERENCE_PROMPTS to the reference server's prompts/ folder")
def test_the_reference_servers_own_prompt_files_give_its_bytes() -> None:
    root = Path(os.environ["CARR_REFERENCE_PROMPTS"])
    prompts = PromptSet.from_dir(root)
    constraints = "C1. <E1> composed the Ember Suite.\nC2. <E1> was born in <E0>."
    read = {name: (root / name).read_text("utf-8") for name in PROMPT_FILES.values()}
    assert prompts.entities_prompt(QUESTION, RUBRICS, ANSWER) == read["identify_entity.txt"].format(
        question=QUESTION, constraints=constraints, response=ANSWER)
    assert prompts.support_prompt("PAGES", ["a.", "b."]) == read["judge_rubric.txt"].format(
        context="PAGES", statements="S1. a.\nS2. b.")
    assert prompts.outcome_prompt(QUESTION, ANSWER, "K") == read["get_outcome_reward.txt"].format(
        question=QUESTION, correct_answer="K", response=ANSWER)


def test_a_directory_missing_a_file_falls_back_to_the_builtin_one(tmp_path: Path) -> None:
    only = {"get_outcome_reward.txt": REFERENCE_STYLE["get_outcome_reward.txt"]}
    prompts = PromptSet.from_dir(write_dir(tmp_path, only), fallback="compact")
    assert prompts.outcome == only["get_outcome_reward.txt"]
    assert prompts.entities == PromptSet.builtin("compact").entities


@pytest.mark.parametrize(("text", "message"), [
    ("{question} {constraints}", r"missing \['response'\]"),
    ("{question} {constraints} {response} {secret}", r"unknown \['secret'\]"),
    ("{question} {constraints} {response} {", "not a valid template"),
    ("{question} {constraints} {response} {0}", "positional or indexed"),
    ("{question} {constraints} {response.upper}", "positional or indexed"),
])
def test_a_bad_template_is_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    write_dir(tmp_path, {"identify_entity.txt": text})
    with pytest.raises(ConfigError, match=message) as err:
        PromptSet.from_dir(tmp_path)
    assert "identify_entity.txt" in str(err.value)


def test_a_missing_or_undecodable_prompt_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        PromptSet.from_dir(tmp_path / "nope")
    (tmp_path / "judge_rubric.txt").write_bytes(b"\xff\xfe{context}")
    with pytest.raises(ConfigError, match="cannot read prompt file"):
        PromptSet.from_dir(tmp_path)


@settings(max_examples=150, deadline=None)
@given(question=st.text(max_size=80), answer=st.text(max_size=200),
       rubrics=st.lists(st.text(max_size=40).map(lambda t: t + " <E0>"), min_size=1, max_size=4))
def test_any_inputs_fill_the_builtin_templates_without_error(question, answer, rubrics) -> None:
    # braces and field-like text in the inputs are data, never template syntax
    for style in PROMPT_STYLES:
        p = PromptSet.builtin(style)
        assert answer in p.entities_prompt(question, rubrics, answer)
        assert answer in p.outcome_prompt(question, answer, "{label}")


# -- output after an analysis --------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(analysis=st.text(max_size=300).filter(lambda t: "```" not in t),
       values=st.dictionaries(st.sampled_from(["E0", "E1", "E2"]),
                              st.one_of(st.none(), st.text(min_size=1, max_size=20)),
                              min_size=3, max_size=3))
def test_the_json_after_any_analysis_is_what_is_read(analysis: str, values) -> None:
    text = f"## Reasoning\n{analysis}\n## Result\n```json\n{json.dumps(values)}\n```\n"
    got = parse_entities_output(text, ["E0", "E1", "E2"])
    expected = {k: (None if v is None or not v.strip() or v.strip().lower() in {"null", "none"}
                    else v.strip()) for k, v in values.items()}
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_judge_text_is_read_or_refused_with_a_judge_output_error(text: str) -> None:
    for parse in (lambda t: parse_entities_output(t, ["E0"]), lambda t: parse_support_output(t, 2)):
        with contextlib.suppress(JudgeOutputError):
            parse(text)


# -- retries that can differ ---------------------------------------------------------------------

class Recording(BaseChatModel):
    """Replies in turn and records every conversation it is sent."""

    replies: list[str]
    seen: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "recording-fake"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.seen.append(list(messages))
        reply = self.replies[len(self.seen) - 1]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


async def test_a_retry_after_invalid_output_shows_the_judge_its_reply_and_the_problem() -> None:
    model = Recording(replies=["no json here", '```json\n{"S1": true}\n```'])
    verdicts = await LLMJudge(model, backoff=FAST).judge_support("EVIDENCE", ["a."])
    assert verdicts == [True]
    first, second = model.seen
    assert len(first) == 1 and first[0].content == second[0].content
    assert [m.type for m in second] == ["human", "ai", "human"]
    assert second[1].content == "no json here"
    assert "could not be used" in second[2].content and "JSON" in second[2].content


async def test_each_retry_shows_only_the_latest_invalid_reply() -> None:
    model = Recording(replies=["bad 1", "bad 2", '```json\n{"S1": false}\n```'])
    assert await LLMJudge(model, backoff=FAST).judge_support("E", ["a."]) == [False]
    assert [m.type for m in model.seen[2]] == ["human", "ai", "human"]
    assert model.seen[2][1].content == "bad 2"


# -- JudgeConfig ---------------------------------------------------------------------------------

def test_judge_config_defaults_send_no_temperature_and_hide_the_key() -> None:
    config = JudgeConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key="sk-secret")
    assert config.temperature is None and "sk-secret" not in repr(config)
    judge = build_judge(config.replace(cache_enabled=False))
    assert isinstance(judge, LLMJudge)
    assert judge.chat_model.temperature is None  # the provider's default applies
    assert "temperature" not in judge.chat_model.request_fields
    hot = build_judge(config.replace(temperature=0.7, cache_enabled=False))
    assert hot.chat_model.request_fields["temperature"] == 0.7


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"base_url": "http://x/v1"}, "judge model"),
    ({"model": "m"}, "base URL"),
    ({"kind": "llm"}, "needs a base URL"),
    ({"kind": "gpt"}, "auto, llm or deterministic"),
    ({"temperature": 3.0}, r"\[0, 2\]"),
    ({"temperature": float("nan")}, r"\[0, 2\]"),
    ({"concurrency": 0}, "concurrency"),
    ({"prompt_style": "terse"}, "prompt style"),
])
def test_judge_config_refuses_bad_values_naming_them(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        JudgeConfig(**kwargs)


def test_judge_config_from_env_and_overrides(tmp_path: Path) -> None:
    env = {"CARR_JUDGE_BASE_URL": "http://127.0.0.1:9/v1", "CARR_JUDGE_MODEL": "m",
           "CARR_JUDGE_API_KEY": "EMPTY", "CARR_JUDGE_TEMPERATURE": "0.5",
           "CARR_JUDGE_CONCURRENCY": "7", "CARR_JUDGE_PROMPT_STYLE": "compact",
           "CARR_JUDGE_CACHE": "off"}
    config = JudgeConfig.from_env(env, concurrency=3)
    assert (config.temperature, config.concurrency, config.prompt_style) == (0.5, 3, "compact")
    assert config.resolved_cache_path() is None and config.describe() == "llm:m@http://127.0.0.1:9/v1"
    with pytest.raises(ConfigError, match="CARR_JUDGE_TEMPERATURE"):
        JudgeConfig.from_env({"CARR_JUDGE_TEMPERATURE": "warm"})
    assert isinstance(build_judge(JudgeConfig.from_env({}), task_has_gold=True), DeterministicJudge)
    assert isinstance(build_judge(JudgeConfig.from_env(env, kind="deterministic")), DeterministicJudge)
    prompts_dir = write_dir(tmp_path / "p", REFERENCE_STYLE)
    judge = build_judge(JudgeConfig.from_env({**env, "CARR_JUDGE_PROMPTS": str(prompts_dir)}))
    assert judge.prompts.source == str(prompts_dir)


# -- the command line ----------------------------------------------------------------------------

def _cli(*args: str):
    from typer.testing import CliRunner

    from carr_agent.cli import _register, app

    _register()
    env = {k: "" for k in os.environ if k.startswith("CARR_JUDGE")}
    return CliRunner().invoke(app, list(args), env={**env, "COLUMNS": "300"})


@pytest.mark.parametrize("command", ["score", "serve-reward"])
def test_judging_commands_refuse_a_bad_prompt_directory_before_any_work(tmp_path: Path, command: str) -> None:
    write_dir(tmp_path / "p", {"judge_rubric.txt": "{context} only"})
    args = ["--judge-base-url", "http://127.0.0.1:9/v1", "--judge-model", "m",
            "--prompts", str(tmp_path / "p"), "--judge-cache", "off"]
    if command == "score":
        args = [str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"), *args]
    result = _cli(command, *args)
    assert result.exit_code == 2, result.output
    assert "judge_rubric.txt" in result.output and "statements" in result.output
    assert not (tmp_path / "out.jsonl").exists()


def test_a_judge_given_by_url_alone_is_refused_naming_the_missing_model(tmp_path: Path) -> None:
    result = _cli("score", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "o.jsonl"),
                  "--judge-base-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 2 and "judge model" in result.output
