"""Chat training sees exactly what inference sees: for byte-level BPE, SentencePiece-style
(Metaspace BPE and Unigram) and WordPiece tokenizers trained here, and the Llama 3, ChatML (Qwen),
Gemma and Mistral chat templates, the training ids equal `apply_chat_template`'s ids for the whole
conversation and the trained tokens are exactly the assistant turns.

The templates are the models' own, copied from their tokenizer_config.json on the Hub:
meta-llama/Meta-Llama-3-8B-Instruct, Qwen/Qwen2-7B-Instruct (ChatML), google/gemma-7b-it and
mistralai/Mistral-7B-Instruct-v0.1. Each also comes as a TAGGED copy with `{% generation %}` around
the assistant's reply and its end-of-turn token; a test checks that both render the same text. The
tagged copy lets transformers' own `return_assistant_tokens_mask` serve as the reference mask.
"""

from __future__ import annotations

import random

import pytest

from core.train.chat import encode_segments, render_segments

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim"
    " + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
LLAMA3_TAGGED = (
    "{% for message in messages %}{% if loop.index0 == 0 %}{{ bos_token }}{% endif %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}"
    "{{ message['content'] | trim + '<|eot_id|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] | trim + '<|eot_id|>' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)
CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CHATML_TAGGED = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n'}}{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}{{ '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}"
    "{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)
GEMMA_TAGGED = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
    "{{ '<start_of_turn>model\\n' }}{% generation %}"
    "{{ message['content'] | trim + '<end_of_turn>' }}{% endgeneration %}{{ '\\n' }}{% else %}"
    "{{ '<start_of_turn>' + message['role'] + '\\n' + message['content'] | trim"
    " + '<end_of_turn>\\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}"
    "{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
MISTRAL_TAGGED = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}"
    "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}{{ ' ' }}"
    "{% endif %}{% endfor %}"
)
# name: (template, tagged copy, bos, eos)
TEMPLATES = {
    "llama3": (LLAMA3, LLAMA3_TAGGED, "<|begin_of_text|>", "<|eot_id|>"),
    "chatml": (CHATML, CHATML_TAGGED, None, "<|im_end|>"),
    "gemma": (GEMMA, GEMMA_TAGGED, "<bos>", "<eos>"),
    "mistral": (MISTRAL, MISTRAL_TAGGED, "<s>", "</s>"),
}
SPECIAL = [
    "<pad>", "<unk>", "<s>", "</s>", "<bos>", "<eos>", "<|begin_of_text|>", "<|eot_id|>",
    "<|start_header_id|>", "<|end_header_id|>", "<|im_start|>", "<|im_end|>", "<start_of_turn>",
    "<end_of_turn>",
]  # fmt: skip
WORDS = (
    "the cat sat on a warm mat . Why is the sky blue ? Because light scatters , mostly blue ! "
    "Write a haiku about rain : soft drops on tin roofs 42 times 7 = 294 café naïve don't"
).split()

CONVERSATIONS = {
    "one exchange": [
        {"role": "user", "content": "Why is the sky blue?"},
        {"role": "assistant", "content": "Because light scatters, mostly blue!"},
    ],
    "two exchanges": [
        {"role": "user", "content": "Write a haiku about rain:"},
        {"role": "assistant", "content": "soft drops on tin roofs\nthe cat sat on a warm mat"},
        {"role": "user", "content": "42 times 7 ="},
        {"role": "assistant", "content": " 294 (don't ask the café)  "},
    ],
}


def corpus(seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    lines = [" ".join(rng.choices(WORDS, k=rng.randint(4, 14))) for _ in range(400)]
    return lines + ["[INST] hi [/INST] system user assistant model\n\n"] * 20


def build(kind: str):
    """A `tokenizers` tokenizer of the given kind, trained here on generated text."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    if kind == "byte-level BPE":  # GPT-2 / Llama 3 / Qwen
        raw = Tokenizer(models.BPE())
        raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        raw.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=500,
            special_tokens=SPECIAL,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    elif kind == "SentencePiece BPE":  # Metaspace, as Llama 2 / Mistral / Gemma convert to
        raw = Tokenizer(models.BPE(unk_token="<unk>"))
        raw.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        raw.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
        trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=SPECIAL)
    elif kind == "SentencePiece Unigram":  # Metaspace, as T5 / ALBERT / XLNet convert to
        raw = Tokenizer(models.Unigram())
        raw.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        raw.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
        trainer = trainers.UnigramTrainer(vocab_size=300, special_tokens=SPECIAL, unk_token="<unk>")
    else:  # WordPiece, as BERT
        raw = Tokenizer(models.WordPiece(unk_token="<unk>"))
        raw.normalizer = normalizers.BertNormalizer(lowercase=True)
        raw.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        raw.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=SPECIAL)
    raw.train_from_iterator(corpus(), trainer)
    return raw


KINDS = ["byte-level BPE", "SentencePiece BPE", "SentencePiece Unigram", "WordPiece"]


@pytest.fixture(scope="module")
def raw_tokenizers():
    return {kind: build(kind) for kind in KINDS}


def wrap(raw, template_name: str, tagged: bool = False):
    from transformers import PreTrainedTokenizerFast

    template, tagged_template, bos, eos = TEMPLATES[template_name]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token=bos, eos_token=eos, pad_token="<pad>", unk_token="<unk>"
    )
    tokenizer.chat_template = tagged_template if tagged else template
    return tokenizer


@pytest.mark.parametrize("conversation", sorted(CONVERSATIONS))
@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("kind", KINDS)
def test_training_ids_are_the_chat_templates_and_only_replies_are_trained(
    raw_tokenizers, kind, template, conversation
):
    turns = CONVERSATIONS[conversation]
    tokenizer = wrap(raw_tokenizers[kind], template)
    reference = wrap(raw_tokenizers[kind], template, tagged=True)
    assert reference.apply_chat_template(turns, tokenize=False) == tokenizer.apply_chat_template(
        turns, tokenize=False
    ), "the tagged copy must render exactly as the model's template"
    row = encode_segments(tokenizer, render_segments(tokenizer, turns), 4096, False)
    inference = tokenizer.apply_chat_template(turns, tokenize=True, return_dict=True)
    assert row["input_ids"] == list(inference["input_ids"])
    expected = reference.apply_chat_template(
        turns, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )["assistant_masks"]
    assert [label != -100 for label in row["labels"]] == [bool(m) for m in expected]
    assert any(expected) and not all(expected)
    trained = [i for i, label in zip(row["input_ids"], row["labels"], strict=True) if label != -100]
    end_of_turn = "<end_of_turn>" if template == "gemma" else tokenizer.eos_token
    assert trained[-1] == tokenizer.convert_tokens_to_ids(end_of_turn)  # it learns to stop


def test_tokenising_pieces_separately_gave_other_ids_for_sentencepiece(raw_tokenizers):
    """The old way (prompt and reply tokenised apart, then joined) differs from the whole
    conversation with Metaspace tokenizers, so the test above catches it."""
    differs = []
    for kind in ("SentencePiece BPE", "SentencePiece Unigram"):
        for template in TEMPLATES:
            tokenizer = wrap(raw_tokenizers[kind], template)
            turns = CONVERSATIONS["two exchanges"]
            pieces = [
                i
                for text, _ in render_segments(tokenizer, turns)
                for i in tokenizer(text, add_special_tokens=False)["input_ids"]
            ]
            whole = tokenizer.apply_chat_template(turns, tokenize=True, return_dict=True)
            differs.append(pieces != list(whole["input_ids"]))
    assert any(differs)


class SlowView:
    """A fast tokenizer seen as a slow one (no character offsets), for the fallback path."""

    is_fast = False

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, text, add_special_tokens=True):
        return {
            "input_ids": self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
        }


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_tokenizers_without_offsets_keep_the_ids_and_find_the_replies(raw_tokenizers, template):
    """The fallback without offsets has the same ids; at each reply's start it may also train a
    whitespace token merged across the boundary, never miss a reply token."""
    tokenizer = wrap(raw_tokenizers["byte-level BPE"], template)
    segments = render_segments(tokenizer, CONVERSATIONS["two exchanges"])
    fast = encode_segments(tokenizer, segments, 4096, False)
    slow = encode_segments(SlowView(tokenizer), segments, 4096, False)
    assert slow["input_ids"] == fast["input_ids"]
    fast_trained = {i for i, label in enumerate(fast["labels"]) if label != -100}
    slow_trained = {i for i, label in enumerate(slow["labels"]) if label != -100}
    assert fast_trained <= slow_trained and len(slow_trained - fast_trained) <= 2 * 2  # 2 replies
