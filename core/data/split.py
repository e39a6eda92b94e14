"""The train/validation split of classification data: the one the trainer uses, so the Data page
can check the very same split for overlap (leakage) before anything trains."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.detect import check_labels
from core.data.formats import DataError
from core.settings import DataSettings


def classification_frame(table: pd.DataFrame, data: DataSettings) -> pd.DataFrame:
    """Columns text[, text_pair], label as clean strings; rows without text or label dropped.

    Raises:
        DataError: a mapped column is missing, or the labels cannot train a classifier.
    """
    wanted = {"text": data.text_column, "label": data.label_column}
    if data.text_pair_column:
        wanted["text_pair"] = data.text_pair_column
    missing = [col for col in wanted.values() if col not in table.columns]
    if missing:
        raise DataError(
            f"The data has no column(s) {missing}; it has {list(table.columns)}. "
            "Map the columns again on the Data page."
        )
    frame = table[list(wanted.values())].rename(columns={v: k for k, v in wanted.items()})
    for col in frame.columns:
        frame[col] = frame[col].map(lambda v: "" if v is None or v != v else str(v).strip())
    frame = frame[(frame["text"] != "") & (frame["label"] != "")].reset_index(drop=True)
    check_labels(frame, "label")
    return frame


def split_frame(
    frame: pd.DataFrame, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified split: each label keeps its share in validation (labels with one row train only)."""
    rng = np.random.default_rng(seed)
    val_index = []
    for _, rows in frame.groupby("label", sort=True):
        index = rows.index.to_numpy().copy()
        rng.shuffle(index)
        take = int(round(len(index) * fraction)) if len(index) > 1 else 0
        val_index.extend(index[:take])
    is_val = frame.index.isin(val_index)
    return frame[~is_val].reset_index(drop=True), frame[is_val].reset_index(drop=True)


def classification_split(
    table: pd.DataFrame, data: DataSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, validation) exactly as training will split this table."""
    return split_frame(classification_frame(table, data), data.validation_fraction, data.split_seed)
