"""An OpenAI-compatible fake judge: ``POST /v1/chat/completions`` answering CaRR judge prompts.

It stands in for the large judge LLM in tests and benchmarks: a real HTTP server, spoken to by the
real OpenAI client stack, that answers deterministically by simple rules. It recognises the prompt
by its labelled lines, not by exact wording, so it keeps working when prompt texts are edited:

* **support** (``S1.``, ``S2.``… statements + webpage contents): a statement is supported iff at
  least 80 % of its content words occur in the evidence. Answer: analysis + a fenced JSON block
  ``{"S1": true, …}``.
* **entities** (``C1.``, ``C2.``… constraints with ``<E0>``, ``<E1>``…): ``E0`` is the response's
  exact answer (its ``## Exact Answer`` section, else its last line); ``Ek`` is the gold value
  from ``--tasks`` when the response mentions it, else null. Answer: a fenced JSON block.
* **outcome** (``correct_answer``): ``extracted_final_answer: <exact answer>`` and
  ``correct: yes`` iff the gold answer equals or occurs in it (case and punctuation ignored).
* **rubric generation** (prompts asking to decompose a question into rubrics): one ``<E0>`` rubric
  per clause of the question, as a JSON list.

Failure modes (``--mode`` or ``POST /control {"mode": ...}``): ``ok``, ``garbage`` (unparsable
text), ``error`` (HTTP 500), ``flaky-error`` / ``flaky-garbage`` (every second call fails).
``GET /stats`` reports call counters; ``POST /reset`` zeroes them.

Run::

    python -m carr_agent.testing.fake_judge_server --port 8765 --latency-ms 200 --mode ok
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from carr_agent.rewards.textnorm import remove_combining_marks

logger = logging.getLogger(__name__)

MODES = ("ok", "garbage", "error", "flaky-error", "flaky-garbage")

_SECTION = re.compile(r"\[Begin of ([^\]\n]+)\]\s*\n(.*?)\n\s*\[End of \1\]", re.S | re.I)
_HEADING = re.compile(r"^\[([A-Za-z][^\]\n]{0,40})\][ \t]*$", re.M)
_STATEMENT = re.compile(r"^\s*S(\d+)\.\s+(.+?)\s*$", re.M)
_CONSTRAINT = re.compile(r"^\s*C(\d+)\.\s+(.+?)\s*$", re.M)
_ENTITY = re.compile(r"<(E\d+)>")
_WORD = re.compile(r"\w+", re.U)
_STOPWORDS = frozenset(
    ["a", "an", "the", "of", "and", "or", "to", "in", "on", "at", "by", "for", "with", "from", "as", "is", "was", "were", "are", "be", "been", "being", "that", "this", "these", "those", "it", "its", "which", "who", "whom", "whose", "what", "when", "where", "how", "than", "then", "into", "onto", "over", "under", "after", "before", "during", "about", "also", "has", "have", "had", "not", "no", "yes", "do", "does", "did", "his", "her", "their", "there"]
)
SUPPORT_THRESHOLD = 0.8


@dataclass
class FakeJudgeState:
    """Mutable server state: the failure mode, gold entities and call counters."""

    mode: str = "ok"
    latency_s: float = 0.0
    gold: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    calls: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0

    def stats(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "by_kind": dict(self.by_kind),
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "mode": self.mode,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


# --------------------------------------------------------------------------- rules (pure)


def normalize(text: str) -> str:
    """Lowercase, strip accents and punctuation, collapse spaces."""
    if not text.isascii():  # ASCII has no accents to strip
        text = remove_combining_marks(unicodedata.normalize("NFKD", text))
    return " ".join(_WORD.findall(text.lower()))


def content_words(text: str) -> list[str]:
    return [w for w in normalize(text).split() if w not in _STOPWORDS]


def sections(prompt: str) -> dict[str, str]:
    """Named blocks by lower-cased name: ``[Begin of X] … [End of X]``, or a ``[X]`` heading line
    followed by text up to the next such heading (the last block runs to the end)."""
    blocks = {m.group(1).strip().lower(): m.group(2) for m in _SECTION.finditer(prompt)}
    if blocks:
        return blocks
    heads = list(_HEADING.finditer(prompt))
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(prompt)
        blocks.setdefault(head.group(1).strip().lower(), prompt[head.end():end].strip("\n"))
    return blocks


def _section(blocks: Mapping[str, str], *needles: str) -> str | None:
    for name, body in blocks.items():
        if any(needle in name for needle in needles):
            return body
    return None


def exact_answer(response: str) -> str | None:
    """The answer's ``## Exact Answer`` section (first non-empty line), else its last line."""
    m = re.search(r"^#+\s*Exact Answer\s*:?\s*$(.*?)(?=^#+\s|\Z)", response, re.M | re.S | re.I)
    if m is None:
        m = re.search(r"Exact Answer\s*:\s*(.+)", response, re.I)
    candidate = m.group(1) if m else response
    lines = [ln.strip().strip("*").strip() for ln in candidate.splitlines() if ln.strip()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        return None
    return lines[0] if m else lines[-1]


def classify(prompt: str) -> str:
    """Which judge question a prompt asks: support, entities, outcome, rubricgen or unknown."""
    blocks = sections(prompt)
    statements = _section(blocks, "statement")
    if (statements is not None and _STATEMENT.search(statements)) or (
        statements is None and _STATEMENT.search(prompt) and "web" in prompt.lower()
    ):
        return "support"
    if any(_ENTITY.search(m.group(2)) for m in _CONSTRAINT.finditer(prompt)):
        return "entities"
    if "correct_answer" in prompt:
        return "outcome"
    low = prompt.lower()
    if "rubric" in low and "decompose" in low:
        return "rubricgen"
    return "unknown"


def answer_support(prompt: str) -> str:
    blocks = sections(prompt)
    statements_text = _section(blocks, "statement") or prompt
    evidence = _between_headings(prompt, ("web", "evidence", "context"), ("statement",))
    if evidence is None:
        evidence = _section(blocks, "web", "evidence", "context") or _STATEMENT.sub("", prompt)
    evidence_words = set(content_words(evidence))
    verdicts: dict[str, bool] = {}
    lines = []
    for m in _STATEMENT.finditer(statements_text):
        words = content_words(m.group(2))
        found = sum(1 for w in words if w in evidence_words)
        ok = bool(words) and found / len(words) >= SUPPORT_THRESHOLD
        verdicts[f"S{m.group(1)}"] = ok
        lines.append(
            f"## Supportness Analysis of S{m.group(1)}\nExplanation: {found}/{len(words)} content "
            f"words found in the webpages.\nFully Supported: {'yes' if ok else 'no'}\n"
        )
    return "\n".join(lines) + "\n## Final JSON-format Summary\n```json\n" + json.dumps(
        verdicts, indent=2
    ) + "\n```\n"


def _between_headings(
    prompt: str, start_names: Sequence[str], stop_names: Sequence[str]
) -> str | None:
    """Text from the first ``[X]``/``[Begin of X]`` heading naming a start word to the first later
    heading naming a stop word (evidence may itself contain ``[Webpage n]`` lines)."""
    heads = [(m.start(), m.end(), m.group(0).lower()) for m in
             re.finditer(r"^\[[^\]\n]{1,60}\][ \t]*$", prompt, re.M)]
    start = next((h for h in heads if any(w in h[2] for w in start_names)), None)
    if start is None:
        return None
    stop = next((h for h in heads if h[0] > start[0] and any(w in h[2] for w in stop_names)), None)
    return prompt[start[1]: stop[0] if stop else len(prompt)]


def answer_entities(prompt: str, gold: Sequence[tuple[str, Mapping[str, str]]]) -> str:
    blocks = sections(prompt)
    response = _section(blocks, "response", "answer") or prompt
    question = _section(blocks, "question") or ""
    constraints = _section(blocks, "constraint", "rubric") or prompt
    labels = sorted(set(_ENTITY.findall(constraints)), key=lambda lab: int(lab[1:]))
    gold_values = _gold_for(question or prompt, gold)
    norm_response = f" {normalize(response)} "
    values: dict[str, str | None] = {}
    for label in labels:
        value: str | None = None
        if label == "E0":
            value = exact_answer(response)
        elif label in gold_values and f" {normalize(gold_values[label])} " in norm_response:
            value = gold_values[label]
        values[label] = value
    analysis = "\n".join(f"- {k}: {'stated' if v else 'not stated'}" for k, v in values.items())
    return (f"## Analysis\n{analysis}\n\n## Final JSON-format Summary\n```json\n"
            + json.dumps(values, indent=2, ensure_ascii=False) + "\n```\n")


def answer_outcome(prompt: str) -> str:
    gold_m = re.search(r"\[?correct_answer\]?\s*:\s*(.+)", prompt)
    gold = gold_m.group(1).strip() if gold_m else ""
    resp_m = re.search(
        r"\[response\]\s*:\s*(.*?)(?=\n\s*(?:Your judgement|\[correct_answer\]|\[question\])|\Z)",
        prompt, re.S | re.I,
    )
    blocks = sections(prompt)
    response = resp_m.group(1) if resp_m else (_section(blocks, "response", "answer") or "")
    extracted = exact_answer(response) or "None"
    norm_gold, norm_ext = normalize(gold), normalize(extracted)
    correct = bool(norm_gold) and (norm_gold == norm_ext or f" {norm_gold} " in f" {norm_ext} ")
    return (f"extracted_final_answer: {extracted}\n\nreasoning: compared with the correct answer "
            f"by normalised text.\n\ncorrect: {'yes' if correct else 'no'}\n\nconfidence: 100%\n")


def answer_rubricgen(prompt: str) -> str:
    blocks = sections(prompt)
    question = _section(blocks, "question") or prompt
    clauses = [c.strip(" ,.;?") for c in re.split(r"[.;?]\s+|,\s+(?:and|which|who)\s+", question)]
    rubrics = [f"<E0> satisfies this: {c}." for c in clauses if len(c.split()) >= 3]
    if not rubrics:
        rubrics = [f"<E0> is the answer to: {question.strip()}"]
    return "```json\n" + json.dumps(rubrics, indent=2, ensure_ascii=False) + "\n```\n"


def _gold_for(text: str, gold: Sequence[tuple[str, Mapping[str, str]]]) -> Mapping[str, str]:
    norm = normalize(text)
    for question, entities in gold:
        if question and question in norm:
            return entities
    return {}


def answer(prompt: str, gold: Sequence[tuple[str, Mapping[str, str]]]) -> tuple[str, str]:
    """``(kind, reply text)`` for one prompt, by the rules above."""
    kind = classify(prompt)
    if kind == "support":
        return kind, answer_support(prompt)
    if kind == "entities":
        return kind, answer_entities(prompt, gold)
    if kind == "outcome":
        return kind, answer_outcome(prompt)
    if kind == "rubricgen":
        return kind, answer_rubricgen(prompt)
    return kind, "I am a fake judge and did not recognise this prompt."


def load_gold(path: Path) -> list[tuple[str, dict[str, str]]]:
    """Gold entity values from a task JSONL (``question`` + ``entities`` per line)."""
    gold = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        entities = {str(k): str(v) for k, v in (record.get("entities") or {}).items() if v}
        if record.get("question"):
            gold.append((normalize(record["question"]), entities))
    return gold


# --------------------------------------------------------------------------- HTTP app


def _prompt_of(messages: Any) -> str:
    parts = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, Mapping))
    return "\n\n".join(parts)


def create_app(state: FakeJudgeState | None = None):  # -> Starlette
    """The fake judge as a Starlette app (``state`` is shared with the caller, for tests)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    st = state or FakeJudgeState()

    async def completions(request: Request) -> Response:
        st.calls += 1
        call_no = st.calls
        st.in_flight += 1
        st.max_in_flight = max(st.max_in_flight, st.in_flight)
        try:
            body = orjson.loads(await request.body())
            if st.latency_s:
                await asyncio.sleep(st.latency_s)
            kind, text = answer(_prompt_of(body.get("messages")), st.gold)
            st.by_kind[kind] += 1
            failing = st.mode in ("error", "garbage") or (
                st.mode.startswith("flaky-") and call_no % 2 == 1
            )
            if failing and st.mode.endswith("error"):
                st.by_status[500] += 1
                return JSONResponse({"error": {"message": "fake judge failure", "type": "server_error"}},
                                    status_code=500)
            if failing:
                text = "lorem ipsum: this is not what you asked for {"
            st.by_status[200] += 1
            return Response(orjson.dumps({
                "id": f"chatcmpl-fake-{call_no}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake-judge"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            }), media_type="application/json")
        finally:
            st.in_flight -= 1

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(st.stats())

    async def reset(request: Request) -> JSONResponse:
        st.calls, st.max_in_flight = 0, st.in_flight
        st.by_kind.clear()
        st.by_status.clear()
        return JSONResponse(st.stats())

    async def control(request: Request) -> JSONResponse:
        body = await request.json()
        if "mode" in body:
            if body["mode"] not in MODES:
                return JSONResponse({"error": f"mode must be one of {MODES}"}, status_code=400)
            st.mode = body["mode"]
        if "latency_ms" in body:
            st.latency_s = float(body["latency_ms"]) / 1000
        return JSONResponse(st.stats())

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": "fake-judge", "object": "model"}]})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/stats", stats, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/control", control, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ])


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry: serve the fake judge with uvicorn."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per completion")
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--tasks", type=Path, default=None,
                        help="task JSONL with gold `entities`, to identify E1..En")
    args = parser.parse_args(argv)
    state = FakeJudgeState(mode=args.mode, latency_s=args.latency_ms / 1000,
                           gold=load_gold(args.tasks) if args.tasks else [])
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
