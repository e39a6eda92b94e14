"""Rows of a table → chat turns → token ids with a mask of what the model learns.

Every instruction format becomes one list of `{"role", "content"}` turns:

    prompt/response columns      [user: prompt, assistant: response]
    Alpaca instruction/input/output   the input is appended to the instruction
    OpenAI `messages`            as they are (system / user / assistant)
    ShareGPT `conversations`     {"from": "human"|"gpt"|"system", "value"} → role/content

The tokenizer's chat template renders the turns. A model without a template gets DEFAULT_TEMPLATE,
saved with the adapter so that inference formats prompts the same way.
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
    prompt) and the rendering that includes it, so whatever the template adds around a reply (end of
    turn tokens) counts as part of the reply, and everything else as prompt.
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
        segments += [(before[len(done) :], False), (after[len(before) :], True)]
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

    Returns:
        {"input_ids", "labels", "length"}, or None when nothing trainable is left after the cut.
    """
    input_ids: list[int] = []
    labels: list[int] = []
    for text, trained in segments:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        input_ids += ids
        labels += ids if (trained or train_on_prompt) else [-100] * len(ids)
    input_ids, labels = input_ids[:max_length], labels[:max_length]
    if all(label == -100 for label in labels[1:]):
        return None
    return {"input_ids": input_ids, "labels": labels, "length": len(input_ids)}
