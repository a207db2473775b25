"""The tiny random Qwen2 model built without any download."""

from __future__ import annotations

import pickle

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from carr_agent.models.tiny import build_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_model(seed=0)


def test_chat_special_tokens_are_single_tokens(tiny):
    _, tok = tiny
    for t in ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool_call>", "</tool_call>"):
        assert tok.convert_ids_to_tokens(tok(t, add_special_tokens=False)["input_ids"]) == [t]
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"


def test_template_renders_tools_tool_calls_and_tool_results(tiny):
    _, tok = tiny
    tools = [
        {
            "type": "function",
            "function": {
                "name": "search",
                "description": "Search.",
                "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
            },
        }
    ]
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Who?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"type": "function", "function": {"name": "search", "arguments": {"query": "x"}}}
            ],
        },
        {"role": "tool", "content": "[1] result"},
        {"role": "tool", "content": "[2] result"},
    ]
    text = tok.apply_chat_template(chat, tools=tools, add_generation_prompt=True, tokenize=False)
    assert text.startswith("<|im_start|>system\nBe brief.\n\n# Tools")
    assert '<tools>\n{"type": "function", "function": {"name": "search"' in text
    assert (
        '<tool_call>\n{"name": "search", "arguments": {"query": "x"}}\n</tool_call><|im_end|>'
        in text
    )
    # Consecutive tool results share one user turn, as in Qwen2.5.
    assert (
        "<|im_start|>user\n<tool_response>\n[1] result\n</tool_response>\n<tool_response>\n[2] result"
        in text
    )
    assert text.endswith("<|im_start|>assistant\n")
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text


def test_same_seed_gives_same_weights_and_global_rng_is_untouched():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a, _ = build_tiny_model(seed=7)
    after = torch.rand(1)
    b, _ = build_tiny_model(seed=7)
    c, _ = build_tiny_model(seed=8)
    assert torch.equal(after, expected)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a.parameters(), c.parameters(), strict=True))


def test_model_and_tokenizer_round_trip_through_save_pretrained_and_pickle(tiny, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = tiny
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model2 = AutoModelForCausalLM.from_pretrained(tmp_path)
    tok2 = AutoTokenizer.from_pretrained(tmp_path)
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hello"}], tokenize=False, add_generation_prompt=True
    )
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok2(text, add_special_tokens=False)["input_ids"] == ids
    assert (
        tok2.apply_chat_template(
            [{"role": "user", "content": "hello"}], tokenize=False, add_generation_prompt=True
        )
        == text
    )
    with torch.no_grad():
        x = torch.tensor([ids])
        assert torch.allclose(model(x).logits, model2(x).logits)
    tok3 = pickle.loads(pickle.dumps(tok))
    assert tok3(text, add_special_tokens=False)["input_ids"] == ids
    model3 = pickle.loads(pickle.dumps(model))
    with torch.no_grad():
        assert torch.equal(model(x).logits, model3(x).logits)


def test_a_tokenizer_trained_on_the_transcripts_makes_them_shorter():
    from carr_agent.models.tiny import build_tiny_tokenizer

    text = ('{"type": "function", "function": {"name": "open", "description": "Open result i of '
            'the latest search, or a URL."}} Kessmar was founded in 1089 [1](https://x.example/K).')
    default = build_tiny_tokenizer()
    trained = build_tiny_tokenizer(1024, corpus=[text] * 20)
    across = build_tiny_tokenizer(1024, corpus=[text] * 20, split_words=False)
    n = [len(t(text, add_special_tokens=False)["input_ids"]) for t in (default, trained, across)]
    assert n[0] > n[1] > n[2]
    for tok in (trained, across):  # still lossless, and the chat special tokens stay whole
        ids = tok(text + "<|im_end|>", add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text + "<|im_end|>"
        assert ids[-1] == tok.convert_tokens_to_ids("<|im_end|>")
