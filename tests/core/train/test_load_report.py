"""Loading a classifier says what it found in one plain line, not transformers' colour banner."""

from __future__ import annotations

from core.models import embedded_model_path
from core.settings import RunConfig
from core.train.classification import load_base, load_report_line


def test_the_new_head_is_one_plain_line_and_the_banner_is_gone(capfd, caplog):
    load_base(RunConfig(), embedded_model_path(), ["no", "yes", "maybe"])
    out, err = capfd.readouterr()
    assert "LOAD REPORT" not in out + err and "\x1b[" not in out + err
    # transformers' handler may write to a stream captured before capfd: check the records too.
    assert not [r for r in caplog.records if "LOAD REPORT" in r.getMessage()]
    assert (
        "Loaded the base model: a new classifier head for 3 labels "
        "(classifier.bias, classifier.weight)" in out
    )


def test_other_missing_unused_or_reshaped_weights_are_named():
    info = {
        "missing_keys": ["classifier.weight", "bert.encoder.layer.0.attention.self.query.weight"],
        "unexpected_keys": [f"lm_head.{i}" for i in range(8)],
        "mismatched_keys": [("bert.embeddings.word_embeddings.weight", (30522, 384), (100, 384))],
    }
    line = load_report_line(info, 2)
    assert "a new classifier head for 2 labels (classifier.weight)" in line
    assert "not in the checkpoint, started at random: bert.encoder.layer.0" in line
    assert "in the checkpoint but unused: lm_head.0" in line and "and 2 more" in line
    assert "of another shape, started at random: bert.embeddings.word_embeddings.weight" in line
    assert load_report_line({}, 2) == "Loaded the base model: every weight from the checkpoint"
