"""A tiny random Qwen2 chat model built locally, for tests, CPU training checks and benchmarks.

Nothing is downloaded: the byte-level BPE vocabulary is trained in memory (milliseconds) on a
small built-in corpus of chat-template and tool-call text, and the weights are random from a
seed. The tokenizer carries the same special tokens as Qwen2.5 (``<|im_start|>``, ``<|im_end|>``,
``<|endoftext|>``, and ``<tool_call>``/``</tool_call>`` as ordinary added tokens) and a
Qwen2.5-style chat template with tools, so code paths exercised with it are the ones real Qwen
models take. Its outputs are gibberish; drive real tool calls with scripted completions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from carr_agent.models.chat_template import QWEN25_CHAT_TEMPLATE

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

__all__ = ["SPECIAL_TOKENS", "build_tiny_model", "build_tiny_tokenizer"]

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
TOOL_TOKENS = ("<tool_call>", "</tool_call>")

_CORPUS = (
    "You are a helpful assistant.",
    "# Tools\n\nYou may call one or more functions to assist with the user query.",
    "You are provided with function signatures within <tools></tools> XML tags:",
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:",
    '{"type": "function", "function": {"name": "search", "description": "Search the web.", '
    '"parameters": {"type": "object", "properties": {"query": {"type": "string"}, '
    '"num": {"type": "integer"}}, "required": ["query"]}}}',
    '{"name": "open", "arguments": {"id_or_url": "https://en.wikipedia.org/wiki/Moon"}}',
    '{"name": "find", "arguments": {"pattern": "landing"}}',
    "<tool_response>\n[1] Title: Moon landing\nURL: https://example.org/moon\n</tool_response>",
    "The answer is 42. According to the source [1], the first crewed Moon landing was in 1969.",
    "Who wrote the novel? Which year did the event happen? What is the capital of France?",
    "the of and to in is was for on that with as by at from this are be or an which it",
    "0123456789 .,;:!?()[]{}<>\"'-_/\\|#@$%^&*+=~` \n\t",
)


def build_tiny_tokenizer(
    vocab_size: int = 512, *, corpus: Sequence[str] | None = None, split_words: bool = True
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer in memory and wrap it for ``transformers``.

    Args:
        vocab_size: Target vocabulary size including the 256 byte symbols and special tokens.
        corpus: Texts to learn the merges from (default: a small built-in corpus of chat-template
            and tool-call text). Training on the transcripts a model will see (system prompt,
            tool schemas, pages) makes them short in tokens.
        split_words: Pre-split on words and spaces (GPT-2 style). ``False`` lets merges span
            words, so text repeated in every prompt (tool schemas) becomes a few tokens.

    Returns:
        A ``PreTrainedTokenizerFast`` with ``eos_token="<|im_end|>"``, ``pad_token="<|endoftext|>"``,
        left padding and the Qwen2.5-style chat template.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=split_words)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = list(_CORPUS) * 4 if corpus is None else [*_CORPUS, *corpus]
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        chat_template=QWEN25_CHAT_TEMPLATE,
        model_max_length=32768,
    )
    fast.add_tokens(list(TOOL_TOKENS), special_tokens=False)
    return fast


def build_tiny_model(
    seed: int = 0,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    vocab_size: int = 512,
    tokenizer: PreTrainedTokenizerFast | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Build a random 2-layer Qwen2 causal LM and its tokenizer (no download, ~0.1 s).

    Args:
        seed: Seeds the weights; the same seed gives the same model. The global torch RNG is left
            untouched.
        hidden_size: Model width; ``head_dim`` is fixed at 32 (vLLM rejects 16).
        num_layers: Number of decoder layers.
        vocab_size: Target BPE vocabulary size (the model's embedding matches the tokenizer).
        tokenizer: Use this tokenizer (e.g. one from :func:`build_tiny_tokenizer` with a
            ``corpus``) instead of building the default one; ``vocab_size`` is then ignored.

    Returns:
        ``(model, tokenizer)``; the model is in eval mode, float32, on CPU, and both round-trip
        through ``save_pretrained``/``from_pretrained``.
    """
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    if tokenizer is None:
        tokenizer = build_tiny_tokenizer(vocab_size)
    head_dim = 32
    if hidden_size % head_dim:
        raise ValueError(f"hidden_size must be a multiple of {head_dim}, got {hidden_size}")
    config = Qwen2Config(  # type: ignore[call-arg]  # head_dim: a config field the stub omits
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=hidden_size // head_dim,
        num_key_value_heads=hidden_size // head_dim,
        head_dim=head_dim,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=int(tokenizer.convert_tokens_to_ids("<|endoftext|>")),  # type: ignore[arg-type]
        dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    model.eval()
    model.generation_config.eos_token_id = [
        tokenizer.convert_tokens_to_ids("<|im_end|>"),
        tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    ]
    model.generation_config.pad_token_id = config.pad_token_id
    return model, tokenizer
