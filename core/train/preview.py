"""Examples as training will see them, for the Data page: rows → examples → the model's own chat
template, cut into (text, trained) pieces by the same functions that build the training tokens
(core.train.generative.build_examples, core.train.chat.render_segments).

Only the model's tokenizer is loaded (from local files: a preview never waits on the network).
"""

from __future__ import annotations

import functools

from core.models import ModelError, resolve_model_path
from core.settings import RunConfig


class PreviewUnavailable(Exception):
    """The model's tokenizer cannot be read here (not downloaded, not a model folder)."""


@functools.lru_cache(maxsize=4)
def _tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    from core.train.chat import ensure_chat_template

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            resolve_model_path(name_or_path), local_files_only=True
        )
    except (OSError, ValueError, ModelError) as err:
        raise PreviewUnavailable(
            f"The tokenizer of {name_or_path!r} is not on this machine ({err})."
        ) from err
    ensure_chat_template(tokenizer)
    return tokenizer


def _render(name_or_path: str, turns: list[dict], render_segments) -> list[tuple[str, bool]]:
    from jinja2 import TemplateError

    try:
        return render_segments(_tokenizer(name_or_path), turns)
    except (TemplateError, TypeError) as err:  # the template rejects these turns (or the model)
        raise PreviewUnavailable(f"The chat template of {name_or_path!r} failed: {err}") from err


def preview_examples(config: RunConfig, table, count: int = 2) -> list[list[tuple[str, bool]]]:
    """The first `count` usable rows of `table` as (text piece, trained) lists, in order.

    Chat and instruction rows are rendered through the model's chat template (or the default
    template a model without one is trained with), the trained pieces being exactly the ones whose
    tokens get a loss; plain text is trained whole; seq2seq shows input then target.

    Raises:
        DataError: the mapped columns do not fit the data.
        PreviewUnavailable: the model's tokenizer is not available locally.
    """
    from core.train.chat import render_segments
    from core.train.generative import build_examples

    examples = build_examples(config, table.head(max(count * 4, count)))
    shown = []
    for example in examples:
        if "turns" in example:
            if not any(t["role"] == "assistant" and t["content"] for t in example["turns"]):
                continue
            shown.append(_render(config.model.name_or_path, example["turns"], render_segments))
        elif "text" in example:
            shown.append([(example["text"], True)])
        else:
            shown.append([(example["source"] + "\n", False), (example["target"], True)])
        if len(shown) == count:
            break
    return shown
