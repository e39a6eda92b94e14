"""Guess what a table is for (the task) and which columns play which role."""

from __future__ import annotations

import pandas as pd

from core.data.chat_turns import normalise_turns
from core.data.errors import DataError

TEXT_NAMES = ("text", "sentence", "review", "content", "body", "comment", "message", "document")
LABEL_NAMES = ("label", "labels", "sentiment", "class", "category", "target", "rating", "y")


def _text_score(series: pd.Series) -> float:
    """Mean length of the values that are strings; 0 for a column that is not text-like."""
    values = series.dropna()
    strings = values[values.map(lambda v: isinstance(v, str))]
    if len(strings) < max(1, 0.5 * len(values)) or strings.str.strip().str.fullmatch(NUMBER).all():
        return 0.0
    return float(strings.str.len().mean() or 0.0)


def _distinct(series: pd.Series) -> int:
    """Distinct values, also for cells pandas cannot hash (lists, dicts from JSON)."""
    try:
        return int(series.nunique())
    except TypeError:
        return int(series.map(repr).nunique())


def suggest_columns(table: pd.DataFrame) -> dict:
    """Suggest the text and label columns of a classification table.

    Returns:
        {"task": "classification", "text": column, "label": column or ""}.

    Raises:
        DataError: no column holds text.
    """
    lower = {c.lower(): c for c in table.columns}
    text = next((lower[n] for n in TEXT_NAMES if n in lower), None)
    scores = {c: _text_score(table[c]) for c in table.columns}
    if text is None or scores.get(text, 0) == 0:
        text = max(scores, key=scores.get) if scores and max(scores.values()) >= 15 else None
    if text is None:
        named = next((lower[n] for n in TEXT_NAMES if n in lower), None)
        if named is not None:
            check_text(table, named)
        raise DataError(
            "No column looks like text (sentences or documents): found "
            f"{', '.join(map(str, table.columns))}. Add a column with the text to learn from."
        )
    label = next((lower[n] for n in LABEL_NAMES if n in lower and lower[n] != text), "")
    if not label:
        counts = {c: _distinct(table[c]) for c in table.columns if c != text}
        candidates = [c for c, n in counts.items() if 2 <= n <= 50]
        label = min(candidates, key=counts.get) if candidates else ""
    return {"task": "classification", "text": text, "label": label}


def check_labels(table: pd.DataFrame, label_column: str) -> None:
    """Raise DataError if the label column cannot train a classifier: missing, fewer than two
    classes, or a different value on (almost) every row (an ID, not a label)."""
    if label_column not in table.columns:
        raise DataError(
            f"There is no column '{label_column}'. Pick the label column from the list."
        )
    labels = table[label_column].map(lambda v: "" if v is None else str(v).strip())
    classes = labels[labels != ""].unique()
    if len(classes) < 2:
        found = f"only '{classes[0]}'" if len(classes) == 1 else "no values"
        raise DataError(
            f"The label column '{label_column}' has {found}: a classifier needs at least two "
            "different labels. Pick another column or add examples of the other classes."
        )
    rows = int((labels != "").sum())
    if rows >= ID_MIN_ROWS and len(classes) >= ID_SHARE * rows:
        raise DataError(
            f"The label column '{label_column}' has {len(classes):,} different values in "
            f"{rows:,} rows: nearly every row has its own value, so it looks like an ID or a "
            "free text, not a label. Pick the column that holds the classes."
        )


# A label column with distinct values on this share of its rows (and at least this many rows)
# is an ID: no class has the two examples that a split into train and validation needs.
ID_SHARE = 0.9
ID_MIN_ROWS = 20


def check_text(table: pd.DataFrame, text_column: str) -> None:
    """Raise DataError if the text column holds only numbers (a model of language needs words)."""
    values = table[text_column].dropna().astype(str).str.strip()
    values = values[values != ""]
    if len(values) and values.str.fullmatch(NUMBER).all():
        raise DataError(
            f"The text column '{text_column}' holds only numbers (e.g. {values.iloc[0]!r}): a "
            "language model learns from words. Pick the column with the text, or, for numeric "
            "features, use a tabular model instead."
        )


NUMBER = r"[+-]?(?:\d+[.,]?\d*|\.\d+)(?:[eE][+-]?\d+)?"


# --- Task detection for every supported shape -------------------------------------------------

# Each shape: the task name, the roles it needs and the column names that fill each role.
SHAPES = {
    "chat": {"messages": ("messages", "conversations", "conversation", "dialog", "chat")},
    "preference": {
        "prompt": ("prompt", "question", "instruction"),
        "chosen": ("chosen", "preferred", "response_chosen"),
        "rejected": ("rejected", "dispreferred", "response_rejected"),
    },
    "instruction": {
        "instruction": ("instruction", "prompt", "question", "query"),
        "output": ("output", "response", "answer", "completion", "target_text"),
    },
}
INPUT_NAMES = ("input", "context")
# A title beside a longer text (AG News: label, title, description) is read with it as a pair.
PAIR_NAMES = ("text_pair", "sentence2", "text2", "hypothesis", "question2", "title", "headline")
# What the trainer's RunConfig calls each data shape (core.settings.TASKS).
SETTINGS_TASK = {
    "classification": "classification",
    "instruction": "causal_lm",
    "chat": "causal_lm",
    "text": "causal_lm",
    "preference": "causal_lm",
}


def suggest_mapping(table: pd.DataFrame) -> dict:
    """Recognise the data's shape and map its columns to roles.

    Returns:
        {"task": "classification" | "instruction" | "chat" | "text" | "preference",
         "settings_task": the matching core.settings task, plus the role → column entries:
         classification: text, text_pair, label; instruction: instruction, input, output;
         chat: messages, chat_format ("openai" or "sharegpt"); text: text;
         preference: prompt, chosen, rejected}.

    Raises:
        DataError: no column holds text.
    """
    lower = {str(c).lower(): c for c in table.columns}
    for task, roles in SHAPES.items():
        found = {
            role: next((lower[n] for n in names if n in lower), None)
            for role, names in roles.items()
        }
        if all(found.values()) and len(set(found.values())) == len(found):
            mapping = {"task": task, **found}
            if task == "chat":
                mapping["chat_format"] = chat_format(table[found["messages"]])
                if not mapping["chat_format"]:
                    continue
            if task == "instruction":
                mapping["input"] = next((lower[n] for n in INPUT_NAMES if n in lower), "")
            return {**mapping, "settings_task": SETTINGS_TASK[task]}
    basic = suggest_columns(table)
    if not basic["label"]:
        return {"task": "text", "text": basic["text"], "settings_task": "causal_lm"}
    pair = next((lower[n] for n in PAIR_NAMES if n in lower and lower[n] != basic["text"]), "")
    return {**basic, "text_pair": pair, "settings_task": "classification"}


def chat_format(column: pd.Series) -> str:
    """ "openai" for role/content turns, "sharegpt" for from/value turns, "" for neither."""
    for value in column.head(20):
        if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
            turns = list(value)
            if turns and isinstance(turns[0], dict):
                if {"role", "content"} <= set(turns[0]):
                    return "openai"
                if {"from", "value"} <= set(turns[0]):
                    return "sharegpt"
    return ""


ALPACA_PROMPT = "### Instruction:\n{instruction}\n\n{input_block}### Response:\n"


def chat_turns(value, fmt: str = "") -> list[dict]:
    """A chat cell as [{"role", "content"}], read exactly as training reads it
    (core.data.chat_turns.normalise_turns: OpenAI or ShareGPT, JSON text or lists), so the page shows
    what will be trained; a cell training could not read gives no turns (counted as empty).
    `fmt` is kept for callers that know the format; the reader recognises both.
    """
    try:
        return normalise_turns(value)
    except DataError:
        return []


def render_example(row: pd.Series | dict, mapping: dict) -> list[tuple[str, bool]]:
    """One example as the model will see it: a list of (text piece, trained_on) in order.

    For chat and instruction data the prompt pieces are False (not learned) and the answers True;
    for classification the last piece is the label the model predicts.
    """

    def get(k):
        return "" if not mapping.get(k) else row[mapping[k]]

    task = mapping["task"]
    if task == "classification":
        text = str(get("text")) + (
            f"  [SEP]  {get('text_pair')}" if mapping.get("text_pair") else ""
        )
        return [(text, False), (f"→ label: {get('label')}", True)]
    if task == "instruction":
        extra = str(get("input") or "").strip()
        prompt = ALPACA_PROMPT.format(
            instruction=get("instruction"), input_block=f"### Input:\n{extra}\n\n" if extra else ""
        )
        return [(prompt, False), (str(get("output")), True)]
    if task == "chat":
        return [
            (f"<|{t['role']}|>\n{t['content']}\n", t["role"] == "assistant")
            for t in chat_turns(get("messages"), mapping.get("chat_format", "openai"))
        ]
    if task == "preference":
        return [
            (f"{get('prompt')}\n", False),
            (f"[chosen] {get('chosen')}\n", True),
            (f"[rejected] {get('rejected')}", False),
        ]
    return [(str(get("text")), True)]


def mapping_text(table: pd.DataFrame, mapping: dict) -> pd.Series:
    """The text of each row that quality checks look at: the mapped text roles joined by newlines."""
    task = mapping["task"]
    if task == "chat":
        fmt = mapping.get("chat_format", "openai")
        return table[mapping["messages"]].map(
            lambda v: "\n".join(t["content"] for t in chat_turns(v, fmt))
        )
    roles = {
        "classification": ("text", "text_pair"),
        "instruction": ("instruction", "input", "output"),
        "preference": ("prompt", "chosen", "rejected"),
        "text": ("text",),
    }[task]
    columns = [mapping[r] for r in roles if mapping.get(r)]
    if len(columns) == 1:
        return _as_text(table[columns[0]])
    joined = _as_text(table[columns[0]])
    for column in columns[1:]:
        joined = joined + "\n" + _as_text(table[column])
    return joined


def _as_text(column: pd.Series) -> pd.Series:
    if column.dtype == object and not column.isna().any():
        return column.astype(str)
    return column.fillna("").astype(str)
