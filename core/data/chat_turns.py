"""Chat cells as role/content turns: the one reader of OpenAI `messages` and ShareGPT
`conversations` data, used by the Data page (what it shows) and by training (what it learns).

    normalise_turns([{"from": "human", "value": "Hi"}])  # [{"role": "user", "content": "Hi"}]

A data format, so it lives in core/data; core/train/chat.py imports it from here.
"""

from __future__ import annotations

import json

from core.data.formats import DataError

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}
SHAREGPT_ROLES.update(system="system", bot="assistant", model="assistant")


def normalise_turns(value) -> list[dict]:
    """An OpenAI `messages` or ShareGPT `conversations` value as role/content turns.

    Raises:
        DataError: the value is not a list of turns (JSON text of one is accepted).
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise DataError(
                f"A chat cell is not a list of turns: {value[:80]!r}. Each cell should hold "
                '[{"role": "user", "content": ...}, {"role": "assistant", "content": ...}].'
            ) from err
    if hasattr(value, "tolist"):  # numpy arrays from parquet / pandas
        value = value.tolist()
    if not isinstance(value, list):
        raise DataError(f"A chat cell should be a list of turns, got {type(value).__name__}.")
    turns = []
    for turn in value:
        if not isinstance(turn, dict):
            raise DataError(f"A chat turn should be an object with role and content, got {turn!r}.")
        role = turn.get("role", turn.get("from", ""))
        content = turn.get("content", turn.get("value", ""))
        role = SHAREGPT_ROLES.get(str(role).lower())
        if role is None:
            raise DataError(
                f"Unknown chat role {turn.get('role', turn.get('from'))!r}; use system, user or "
                "assistant (ShareGPT: system, human, gpt)."
            )
        turns.append({"role": role, "content": str(content)})
    return turns
