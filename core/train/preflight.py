"""Checks a run can pass before Start, from files alone (no model loads): the pages and
`core.fit` call them so a run that would fail when the job loads its model is refused first.

Its own module because it reads both the data (core.train.classification) and the adapter's files
(core.train.adapters), which import each other's side of the model loading.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from core.setting_sections import DataSettings
from core.settings import ConfigError, RunConfig
from core.train.adapters import check_start_adapter


def start_adapter_problem(config: RunConfig) -> str:
    """Why this run's lora.init_from cannot start it ("" when it can, or when none is set), for
    the pages and `core.fit` before Start. Reads the data's labels for a classifier.

    The data's own errors are not reported here (the data checks say them)."""
    if not config.lora.init_from:
        return ""
    labels = None
    if config.model.task == "classification" and config.data.path:
        labels = data_labels(config.data)
    try:
        check_start_adapter(config, labels)
    except ConfigError as err:
        return str(err)
    return ""


def data_labels(data: DataSettings) -> list[str] | None:
    """The data's sorted label names (None when the file cannot give them), read once per version
    of the file and data settings: the pages call this on every rerun while lora.init_from is set,
    and a large file takes seconds to read."""
    try:
        stat = Path(data.path).stat()
    except OSError:
        return None
    labels = _labels(data.model_dump_json(), stat.st_mtime_ns, stat.st_size)
    return None if labels is None else list(labels)


@lru_cache(maxsize=8)
def _labels(data_json: str, mtime_ns: int, size: int) -> tuple[str, ...] | None:
    from core.data.load import load_table
    from core.data.split import classification_frame

    data = DataSettings.model_validate_json(data_json)
    try:
        return tuple(sorted(classification_frame(load_table(data.path), data)["label"].unique()))
    except (OSError, ValueError):  # DataError is a ValueError: the data checks say it
        return None
