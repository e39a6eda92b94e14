"""Checks a run can pass before Start, from files alone (no model loads): the pages and
`core.fit` call them so a run that would fail when the job loads its model is refused first.

Its own module because it reads both the data (core.train.classification) and the adapter's files
(core.train.adapters), which import each other's side of the model loading.
"""

from __future__ import annotations

from core.settings import ConfigError, RunConfig
from core.train.adapters import check_start_adapter
from core.train.classification import prepare_frames


def start_adapter_problem(config: RunConfig) -> str:
    """Why this run's lora.init_from cannot start it ("" when it can, or when none is set), for
    the pages and `core.fit` before Start. Reads the data's labels for a classifier.

    The data's own errors are not reported here (the data checks say them)."""
    if not config.lora.init_from:
        return ""
    labels = None
    if config.model.task == "classification" and config.data.path:
        try:
            labels = prepare_frames(config)[2]
        except (OSError, ValueError):  # DataError is a ValueError
            labels = None
    try:
        check_start_adapter(config, labels)
    except ConfigError as err:
        return str(err)
    return ""
