"""Rows of a table → chat turns → token ids with a mask of what the model learns.

Every instruction format becomes one list of `{"role", "content"}` turns:

    prompt/response columns      [user: prompt, assistant: response]
    Alpaca instruction/input/output   the input is appended to the instruction
    OpenAI `messages`            as they are (system / user / assistant)
    ShareGPT `conversations`     {"from": "human"|"gpt"|"system", "value"} → role/content

The tokenizer's chat template renders the turns. A model without a template gets DEFAULT_TEMPLATE,
saved with the adapter so that inference formats prompts the same way.

The rendered conversation is tokenised once, as `apply_chat_template` does for inference, and the
trained tokens are those whose characters overlap an assistant reply: the rule of transformers'
`return_assistant_tokens_mask`, which tests/core/train/test_chat_templates.py uses as the reference.
That mask itself (and TRL's `assistant_only_loss`, built on it) needs `{% generation %}` markers
that the Llama 3, Qwen2, Gemma and Mistral templates do not have, and TRL 1.x no longer ships
`DataCollatorForCompletionOnlyLM`; so the replies are found by rendering turn by turn instead.
"""

from __future__ import annotations

from core.data.chat_turns import SHAREGPT_ROLES, normalise_turns  # noqa: F401 (re-exported)
from core.data.load import DataError

# A plain template for base models that ship none; ends each assistant turn with EOS so that
# generation learns to stop.
DEFAULT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '### Response:\n' + message['content'] + eos_token + '\n' }}"
    "{% elif message['role'] == 'system' %}"
    "{{ '### System:\n' + message['content'] + '\n' }}"
    "{% else %}"
    "{{ '### Instruction:\n' + message['content'] + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '### Response:\n' }}{% endif %}"
)


def prompt_response_turns(prompt: str, response: str, extra_input: str = "") -> list[dict]:
    """One exchange; an Alpaca `input` is appended to the instruction after a blank line."""
    text = f"{prompt}\n\n{extra_input}" if extra_input else prompt
    return [{"role": "user", "content": text}, {"role": "assistant", "content": response}]


def ensure_chat_template(tokenizer) -> bool:
    """Give a tokenizer without a chat template DEFAULT_TEMPLATE; True when it was set here."""
    if getattr(tokenizer, "chat_template", None):
        return False
    tokenizer.chat_template = DEFAULT_TEMPLATE
    return True


def render_segments(tokenizer, turns: list[dict]) -> list[tuple[str, bool]]:
    """The rendered conversation cut into (text, is_response) pieces, in order.

    Each assistant reply is the difference between the rendering up to it (with the generation
    prompt) and the rendering that includes it, so whatever the template adds after a reply (its end
    of turn token) counts as part of the reply, and everything else as prompt; whitespace the
    template writes after the end of turn (ChatML's newline, Mistral's space) is prompt, as the
    model stops before it.
    """
    segments: list[tuple[str, bool]] = []
    done = ""
    for index, turn in enumerate(turns):
        if turn["role"] != "assistant":
            continue
        before = _render(tokenizer, turns[:index], generation_prompt=True)
        after = _render(tokenizer, turns[: index + 1], generation_prompt=False)
        if not (before.startswith(done) and after.startswith(before)):
            raise DataError(
                "The model's chat template does not render turns incrementally, so the response "
                "tokens cannot be found; turn on 'train on prompt' or use another model."
            )
        reply = after[len(before) :]
        kept = reply.rstrip()  # whitespace after the end-of-turn marker is never generated
        segments += [(before[len(done) :], False), (kept, True), (reply[len(kept) :], False)]
        done = after
    rest = _render(tokenizer, turns, generation_prompt=False)[len(done) :]
    if rest:
        segments.append((rest, False))
    return [(text, trained) for text, trained in segments if text]


def _render(tokenizer, turns: list[dict], generation_prompt: bool) -> str:
    if not turns:
        return ""
    return tokenizer.apply_chat_template(
        turns, tokenize=False, add_generation_prompt=generation_prompt
    )


def encode_segments(
    tokenizer, segments: list[tuple[str, bool]], max_length: int, train_on_prompt: bool
) -> dict | None:
    """Token ids and labels (-100 where the model does not learn), cut at max_length.

    The whole rendered conversation is tokenised once, exactly as `apply_chat_template` tokenises it
    for inference (no special tokens added: the template writes them), and a token is trained when
    its characters overlap a response segment. Tokenising the pieces one by one and joining them
    gives other ids with SentencePiece / Metaspace tokenizers (a stray `▁`, other merges).

    Returns:
        {"input_ids", "labels", "length"}, or None when nothing trainable is left after the cut.
    """
    text = "".join(piece for piece, _ in segments)
    spans, at = [], 0
    for piece, trained in segments:
        if trained or train_on_prompt:
            spans.append((at, at + len(piece)))
        at += len(piece)
    input_ids, trained = _tokens_in_spans(tokenizer, text, spans)
    labels = [i if t else -100 for i, t in zip(input_ids, trained, strict=True)]
    input_ids, labels = input_ids[:max_length], labels[:max_length]
    if all(label == -100 for label in labels[1:]):
        return None
    return {"input_ids": input_ids, "labels": labels, "length": len(input_ids)}


def _tokens_in_spans(tokenizer, text: str, spans: list[tuple[int, int]]):
    """(ids of `text`, for each token whether it overlaps one of the character spans)."""
    if not getattr(tokenizer, "is_fast", False):
        return _tokens_in_spans_slow(tokenizer, text, spans)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    trained = [
        any(_overlaps(start, end, low, high) for low, high in spans)
        for start, end in enc["offset_mapping"]
    ]
    return list(enc["input_ids"]), trained


def _overlaps(start: int, end: int, low: int, high: int) -> bool:
    if start == end:  # an empty offset (some special tokens): where it stands
        return low <= start < high
    return start < high and end > low


def _tokens_in_spans_slow(tokenizer, text: str, spans: list[tuple[int, int]]):
    """Without character offsets (slow tokenizers), approximately: a span starts at the first token
    where the whole text's ids part from those of the text before the span (a whitespace token
    merged across the boundary is trained along) and ends after as many tokens as the text up to
    its end has. The ids are still exactly the whole text's."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    trained = [False] * len(ids)
    for low, high in spans:
        before = tokenizer(text[:low], add_special_tokens=False)["input_ids"] if low else []
        pairs = zip(before, ids, strict=False)  # `before` may be longer by a merged token
        first = next((i for i, (a, b) in enumerate(pairs) if a != b), len(before))
        last = min(len(tokenizer(text[:high], add_special_tokens=False)["input_ids"]), len(ids))
        trained[first:last] = [True] * max(0, last - first)
    return ids, trained
