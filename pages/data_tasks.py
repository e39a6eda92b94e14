"""The Data page's task choice and the column mapping of text-generation data.

Not a page itself (app.py lists the pages explicitly). Classification is mapped in pages/data.py;
instruction, chat, plain-text and seq2seq data are mapped here, with a few examples rendered as
the model will see them (the part it learns to write highlighted).
"""

from __future__ import annotations

import html

import streamlit as st

from core.data.detect import render_example
from core.settings import RunConfig

TASK_CHOICES = {
    "classification": "Sort texts into labels (classification)",
    "causal_lm": "Write answers or continue text (instruction, chat, plain text)",
    "seq2seq": "Turn an input text into an output text (seq2seq, Flan-T5 style)",
}


def choose_task(config: RunConfig, shape: dict) -> str:
    """What the model should learn; defaults to what the data looks like."""
    suggested = shape.get("settings_task", "classification")
    current = config.model.task if config.model.task != "classification" else suggested
    if shape["task"] == "preference":
        st.info(
            "This looks like preference data (prompt / chosen / rejected). It is recognised; "
            "training on preferences comes in a later version, so the chosen answers are used "
            "as responses below.",
            icon=":material/info:",
        )
    options = list(TASK_CHOICES)
    return st.radio(
        "What should the model learn?",
        options,
        index=options.index(current),
        format_func=TASK_CHOICES.get,
        key="data-task",
    )


def _render_as_trained(table, config, count: int) -> bool:
    """Render with core.train.preview (the model's template, training's spans); False when the
    model's tokenizer is not on this machine or the mapping does not fit (the fixed layout shows)."""
    from core.data.load import DataError
    from core.train.preview import PreviewUnavailable, preview_examples

    try:
        examples = preview_examples(config, table, count)
    except (DataError, PreviewUnavailable):
        return False
    st.caption(
        "As the model sees it, through its chat template: highlighted text is what it learns to "
        "write."
    )
    for pieces in examples:
        _show_pieces(pieces)
    return True


def _select(label: str, columns: list[str], default: str, key: str, optional=False) -> str:
    options = ([""] if optional else []) + columns
    index = options.index(default) if default in options else 0
    return st.selectbox(label, options, index=index, key=key, format_func=lambda c: c or "(none)")


def generative_mapping(table, config: RunConfig, shape: dict, task: str) -> dict:
    """Column choices for causal-LM / seq2seq data; returns the DataSettings changes."""
    columns = [str(c) for c in table.columns]
    data = config.data
    chat_default = data.messages_column or shape.get("messages", "")
    kinds = ["A prompt and a response column", "A chat column (list of turns)", "One text column"]
    if task == "seq2seq":
        kinds = kinds[:1]
    default_kind = (
        1 if chat_default and task == "causal_lm" else (2 if shape["task"] == "text" else 0)
    )
    kind = st.radio(
        "How is the data laid out?", kinds, index=min(default_kind, len(kinds) - 1), key="data-kind"
    )
    empty = {"prompt_column": "", "response_column": "", "messages_column": "", "label_column": ""}
    if kind == kinds[0]:
        left, right = st.columns(2)
        with left:
            prompt = _select(
                "Prompt (what the model is asked)",
                columns,
                data.prompt_column or shape.get("instruction") or shape.get("prompt", ""),
                "data-prompt",
            )
        with right:
            response = _select(
                "Response (what it learns to write)",
                columns,
                data.response_column or shape.get("output") or shape.get("chosen", ""),
                "data-response",
            )
        return {
            **empty,
            "prompt_column": prompt,
            "response_column": response,
            "text_column": prompt,
        }
    if kind == kinds[1]:
        chat = _select("Chat column", columns, chat_default, "data-chat")
        return {**empty, "messages_column": chat, "text_column": chat}
    text = _select("Text column", columns, data.text_column or shape.get("text", ""), "data-text")
    return {**empty, "text_column": text}


def render_examples(table, changes: dict, task: str, count: int = 2, config=None) -> None:
    """A few rows as the model will see them; the highlighted part is what it learns to write.
    With the run's `config`, through the model's chat template by training's own code."""
    if config is not None and _render_as_trained(table, config, count):
        return
    if changes.get("messages_column"):
        mapping = {"task": "chat", "messages": changes["messages_column"]}
        from core.data.detect import chat_format

        mapping["chat_format"] = chat_format(table[changes["messages_column"]]) or "openai"
    elif changes.get("response_column"):
        mapping = {
            "task": "instruction",
            "instruction": changes["prompt_column"],
            "output": changes["response_column"],
        }
        # Training appends an Alpaca / Self-Instruct `input` to an `instruction` prompt: show it.
        if changes["prompt_column"] == "instruction" and "input" in table.columns:
            mapping["input"] = "input"
    else:
        mapping = {"task": "text", "text": changes["text_column"]}
    st.caption("As the model sees it: highlighted text is what it learns to write.")
    for _, row in table.head(count).iterrows():
        try:
            pieces = render_example(row, mapping)
        except (KeyError, TypeError, ValueError) as err:
            st.warning(f"This row cannot be shown with these columns: {err}")
            return
        _show_pieces(pieces)


def _show_pieces(pieces) -> None:
    body = "".join(
        f"<mark>{html.escape(str(text))}</mark>" if trained else html.escape(str(text))
        for text, trained in pieces
    )
    st.markdown(
        "<div style='white-space:pre-wrap;font-family:monospace;font-size:0.85em;"
        f"border-left:3px solid #6C4AB6;padding-left:8px'>{body}</div>",
        unsafe_allow_html=True,
    )
