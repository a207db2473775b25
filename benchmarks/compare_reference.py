"""Side by side with the reference reward server: the same requests, the same judge, the rewards.

Starts the fake OpenAI-compatible judge (``carr_agent.testing.fake_judge_server``), the reference
server (THUDM/CaRR ``deepsearch_rm_with_rubrics/launch_server.py``, run by ``--reference-python``,
which needs fastapi, uvicorn and openai) and ``carr-agent serve-reward --judge llm`` against that
judge, sends every case to both and prints one row per case: HTTP status and reward of each, and
whether they agree. The cases are the sample requests (``examples/data/evaluate_requests.jsonl``)
and variants that pin the parity defects of issue 9: ill-formed tool calls as the reference
rollout records them, a search hit without its URL, ``URL Source: <url> (redirected)``, a cited
page seen with an empty text, and a request without ``rubric_reward_ratio``. Citations are
rewritten to the reference's own style ``[[n](url)]``: the samples' ``[n](url).`` style is a
documented difference (the reference's citation pattern then runs on to the next ``),``).

    python benchmarks/compare_reference.py --reference /path/to/CaRR \\
        --reference-python /venv-with-fastapi/bin/python [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from bench_reward_server import carr_agent_cmd, free_port, reference_dir, start, stop

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("sample", ROOT / "examples/data/build_sample_requests.py")
sample = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(sample)  # type: ignore[union-attr]


def cases() -> dict[str, dict[str, Any]]:
    """Case name → ``/evaluate`` body."""
    lines = (ROOT / "examples/data/evaluate_requests.jsonl").read_text().splitlines()
    base = {r["id"]: r for r in map(json.loads, lines)}
    out = dict(base)
    cited = base["cited-correct"]

    def variant(name: str, edit: Any) -> None:
        body = copy.deepcopy(cited)
        edit(body)
        body["id"] = name
        out[name] = body

    def ill_formed(name: Any, arguments: str) -> Any:
        def edit(body: dict) -> None:
            body["history"][3:3] = [
                {"role": "assistant", "reasoning_content": "r", "tool_calls": [
                    {"tool_call_id": "tool-call-bad", "name": name, "arguments": arguments}]},
                {"role": "tool", "content": [
                    {"output": "Error: Error function call format. Please check your function "
                               "call format."}]},
            ]
        return edit

    def no_url(body: dict) -> None:
        out_ = body["history"][2]["content"][0]
        out_["output"] = out_["output"].replace("[1] URL Source: https://example.org/wiki/Lantern\n", "")

    def redirected(body: dict) -> None:
        for message in body["history"]:
            for item in message.get("content") if message["role"] == "tool" else []:
                item["output"] = item["output"].replace(
                    "URL Source: https://example.org/wiki/Brastow",
                    "URL Source: https://example.org/wiki/Brastow (redirected)")

    def empty_page(body: dict) -> None:
        url = "https://example.org/wiki/Velda"
        body["history"][-1:-1] = [
            {"role": "assistant", "tool_calls": [
                {"tool_call_id": "tc-9", "name": "browser.open", "arguments": json.dumps({"id": url})}]},
            {"role": "tool", "content": [{"tool_call_id": "tc-9", "output": (
                f"Title: Velda\nURL Source: {url}\nPublished Time: 2020-01-01\nMarkdown Content:\n")}]},
        ]
        body["history"][-1]["content"] = body["history"][-1]["content"].replace(
            "and the Velda is a river", f"and the Velda is a river [3]({url}),")

    def no_ratio(body: dict) -> None:
        del body["remote_env_info"]["rubric_reward_ratio"]

    variant("ill-formed: name null, arguments null", ill_formed(None, "null"))
    variant("ill-formed: arguments a JSON string", ill_formed("browser.search", '"opera"'))
    variant("ill-formed: arguments an array", ill_formed("browser.open", "[0]"))
    variant("search hit without URL Source", no_url)
    variant("URL Source: <url> (redirected)", redirected)
    variant("cited page with empty content", empty_page)
    variant("no rubric_reward_ratio", no_ratio)
    for body in out.values():
        body["remote_env_info"].pop("entities", None)  # the LLM path on both servers
        last = body["history"][-1]
        if isinstance(last.get("content"), str):
            last["content"] = re.sub(r"(\[\d+\]\(https?://[^)\s]+\))", r"[\1]", last["content"])
    return out


def post(client: httpx.Client, url: str, body: dict) -> tuple[int, float | None]:
    response = client.post(url, json={k: v for k, v in body.items() if k != "id"}, timeout=120)
    try:
        reward = response.json().get("reward")
    except ValueError:
        reward = None
    return response.status_code, reward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True,
                        help="a THUDM/CaRR checkout (or its deepsearch_rm_with_rubrics folder)")
    parser.add_argument("--reference-python", default=sys.executable)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--logs", type=Path, default=None, help="keep the servers' logs here")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="a checkout of an earlier carr_agent (e.g. `git worktree add DIR "
                             "ef32a47`): its server is a third column, measured in the same run")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = args.logs or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        gold = tmp / "gold.jsonl"
        gold.write_text(json.dumps({"id": "silver-lantern", "question": sample.QUESTION,
                                    "label": sample.LABEL, "rubrics": sample.RUBRICS,
                                    "entities": sample.ENTITIES}) + "\n")
        jport, rport, oport = free_port(), free_port(), free_port()
        judge_url = f"http://127.0.0.1:{jport}/v1"
        procs = [start([sys.executable, "-m", "carr_agent.testing.fake_judge_server", "--port",
                        str(jport), "--tasks", str(gold)], jport, tmp / "judge.log")]
        try:
            procs.append(start([args.reference_python, "launch_server.py", "--host", "127.0.0.1",
                                "--port", str(rport), "--base_url", judge_url, "--model_name",
                                "fake-judge", "--api_key", "EMPTY"], rport, tmp / "reference.log",
                               cwd=reference_dir(args.reference)))
            procs.append(start([*carr_agent_cmd(), "serve-reward", "--port", str(oport), "--judge",
                                "llm", "--judge-base-url", judge_url, "--judge-model", "fake-judge",
                                "--judge-cache", "off"], oport, tmp / "ours.log"))
            bport = free_port()
            if args.baseline_src is not None:
                procs.append(start(
                    [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv.pop(1)); "
                     "from carr_agent.cli import main; sys.argv[0] = 'carr-agent'; main()",
                     str(args.baseline_src.resolve()), "serve-reward", "--port", str(bport),
                     "--judge", "llm", "--judge-base-url", judge_url, "--judge-model",
                     "fake-judge", "--judge-cache", "off"], bport, tmp / "baseline.log"))
            with httpx.Client() as client:
                for name, body in cases().items():
                    ref = post(client, f"http://127.0.0.1:{rport}/evaluate", body)
                    ours = post(client, f"http://127.0.0.1:{oport}/evaluate", body)
                    row = {"case": name, "reference": ref, "ours": ours, "same": ref == ours}
                    if args.baseline_src is not None:
                        row["baseline"] = post(client, f"http://127.0.0.1:{bport}/evaluate", body)
                    rows.append(row)
        finally:
            for proc in reversed(procs):
                stop(proc)
    width = max(len(r["case"]) for r in rows)
    base = args.baseline_src is not None
    print(f"{'case':<{width}}  reference (status, reward)  ours (status, reward)  same"
          + ("  baseline (status, reward)  same" if base else ""))
    for r in rows:
        line = (f"{r['case']:<{width}}  {r['reference']!s:<26}  {r['ours']!s:<21}  "
                f"{'yes' if r['same'] else 'NO ':<4}")
        if base:
            line += f"  {r['baseline']!s:<25}  {'yes' if r['baseline'] == r['reference'] else 'NO'}"
        print(line)
    print(f"\nours: {sum(r['same'] for r in rows)} of {len(rows)} cases agree with the reference"
          + (f"; baseline: {sum(r['baseline'] == r['reference'] for r in rows)} of {len(rows)}"
             if base else ""))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
