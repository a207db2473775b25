"""Peak memory of the trainer's per-token log-probabilities: full logits vs chunked selective.

The trainer needs ``log p(target_t)`` at every position. Materialising the ``[B, T, V]`` float32
logits (and the temporaries of a log-softmax over them) is what the unchunked path does; at the
GPU recipe's ~30k tokens and Qwen's 152k vocabulary one copy is ~18 GB per sequence.
``carr_agent.training.batching.token_logprobs`` runs the LM head ``--chunk`` positions at a time
and keeps only each target's log-probability (recomputing a chunk in the backward pass).

Each variant runs in a fresh subprocess (forward + backward, as in the update) on a random
Qwen2 with a large vocabulary; the peak resident memory above the process's memory just before
the call is reported, with the time and the largest difference between the two results.

    python benchmarks/bench_logprobs_memory.py --seq-len 4096 --vocab 32768 --chunk 512
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from harness import rss_mib, write_results


def child(variant: str, seq_len: int, vocab: int, chunk: int, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from carr_agent.training.assembly import TokenTrajectory
    from carr_agent.training.batching import collate, token_logprobs

    torch.manual_seed(0)
    torch.set_num_threads(1)
    config = Qwen2Config(vocab_size=vocab, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         head_dim=32, max_position_embeddings=seq_len + 8,
                         tie_word_embeddings=True)
    model = AutoModelForCausalLM.from_config(config).float().eval()
    ids = torch.randint(0, vocab, (seq_len,)).tolist()
    half = seq_len // 2
    traj = TokenTrajectory(input_ids=ids, loss_mask=[0] * half + [1] * (seq_len - half),
                           rollout_logprobs=[0.0] * seq_len, temperature=1.0, num_turns=1)
    batch = collate([traj], pad_id=0)
    before = rss_mib() or 0.0
    start = time.perf_counter()
    logp = token_logprobs(model, batch, chunk_size=0 if variant == "full" else chunk)
    (logp * batch.loss_mask).sum().backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    out.write_text(json.dumps({"variant": variant, "peak_above_start_mib": round(peak - before, 1),
                               "seconds": round(seconds, 2),
                               "logp": logp.detach()[0, half - 1:].tolist()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--vocab", type=int, default=32768)
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--child", choices=["full", "chunked"])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.seq_len, args.vocab, args.chunk, args.out)
        return
    rows, results = [], {}
    for variant in ("full", "chunked"):
        out = Path(f"/tmp/carr-bench-logprobs-{variant}.json")
        subprocess.run([sys.executable, __file__, "--child", variant, "--out", str(out),
                        "--seq-len", str(args.seq_len), "--vocab", str(args.vocab),
                        "--chunk", str(args.chunk)], check=True)
        results[variant] = json.loads(out.read_text())
    diff = max(abs(a - b) for a, b in zip(results["full"]["logp"], results["chunked"]["logp"],
                                           strict=True))
    full_logits_mib = args.seq_len * args.vocab * 4 / 2**20
    for variant in ("full", "chunked"):
        r = results[variant]
        rows.append({"variant": variant if variant == "full" else f"chunked ({args.chunk})",
                     "tokens": args.seq_len, "vocab": args.vocab,
                     "peak_above_start_MiB": r["peak_above_start_mib"], "seconds": r["seconds"],
                     "max_abs_diff_vs_full": 0.0 if variant == "full" else diff})
    ratio = rows[0]["peak_above_start_MiB"] / max(rows[1]["peak_above_start_MiB"], 1e-9)
    write_results("logprobs_memory", rows, params=vars(args) | {"out": None, "child": None},
                  notes=f"forward + backward of token_logprobs; one [T, V] fp32 logits copy is "
                        f"{full_logits_mib:.0f} MiB. Peak reduced {ratio:.1f}x.")


if __name__ == "__main__":
    main()
