"""core.train.heads: mean pooling where the checkpoint was trained for it, and the probe head start;
every reader of the trained classifier (evaluation, prediction, merging) pools the same way."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from core.train.heads import (
    PROBE_STRENGTHS,
    PoolingError,
    checkpoint_pooling,
    classifier_class,
    mean_pool,
    resolve_pooling,
    start_head_from_probe,
)


def sentence_transformers_copy(tiny_bert, folder, mean: bool = True):
    """The tiny BERT with a sentence-transformers pooling module, as the embedded model has."""
    shutil.copytree(tiny_bert, folder)
    (folder / "1_Pooling").mkdir()
    modes = {"pooling_mode_mean_tokens": mean, "pooling_mode_cls_token": not mean}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(modes))
    return folder


def test_auto_pooling_reads_the_checkpoints_own_pooling_file(tiny_bert, tmp_path):
    from transformers import AutoConfig, LlamaConfig

    bert = AutoConfig.from_pretrained(tiny_bert)
    mean_copy = sentence_transformers_copy(tiny_bert, tmp_path / "mean")
    cls_copy = sentence_transformers_copy(tiny_bert, tmp_path / "cls", mean=False)
    assert checkpoint_pooling(str(mean_copy)) == "mean"
    assert checkpoint_pooling(str(cls_copy)) == "cls"
    assert checkpoint_pooling(str(tiny_bert)) == "cls"  # no pooling file
    assert checkpoint_pooling("org/not-a-folder") == "cls"
    assert resolve_pooling("auto", str(mean_copy), bert) == "mean"
    assert resolve_pooling("cls", str(mean_copy), bert) == "cls"
    assert resolve_pooling("mean", str(tiny_bert), bert) == "mean"
    llama = LlamaConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2)
    assert resolve_pooling("auto", str(mean_copy), llama) == "cls"  # decoders keep their head
    with pytest.raises(PoolingError, match="not available for llama.*auto or cls"):
        resolve_pooling("mean", str(mean_copy), llama)


def test_the_train_page_words_follow_the_checkpoint_and_the_settings(tiny_bert, tmp_path):
    from core.settings import RunConfig
    from core.train.heads import head_words

    mean_copy = sentence_transformers_copy(tiny_bert, tmp_path / "mean")
    words = head_words(RunConfig().replace(model={"name_or_path": str(mean_copy)}))
    assert "mean of its token vectors (how" in words and "logistic regression" in words
    forced = RunConfig().replace(
        model={"name_or_path": str(mean_copy), "pooling": "cls", "head_start": "random"}
    )
    assert head_words(forced) == (
        "The classifier reads the architecture's own summary token; its head starts from "
        "random weights."
    )
    assert "if the model ships" in head_words(RunConfig().replace(model={"name_or_path": "org/x"}))
    text_task = RunConfig().replace(model={"task": "causal_lm", "name_or_path": str(tiny_bert)})
    assert head_words(text_task) == ""


def test_the_mean_pooling_classifier_reads_the_mean_of_the_kept_tokens(tiny_bert):
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny_bert)
    model = classifier_class(config, "mean").from_pretrained(tiny_bert, num_labels=2).eval()
    stock = classifier_class(config, "cls").from_pretrained(tiny_bert, num_labels=2).eval()
    assert type(model).__name__ == "MeanPoolingBertForSequenceClassification"
    assert isinstance(model, type(stock))  # same weights and names: peft and loaders take it
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    texts = ["great product", "the box was quite poor and broken today"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        logits = model(**batch).logits
        hidden = model.bert(**batch).last_hidden_state
        expected = model.classifier(mean_pool(hidden, batch["attention_mask"]))
        alone = model(**tokenizer(texts[:1], return_tensors="pt")).logits
        labels = torch.tensor([0, 1])
        loss = model(**batch, labels=labels).loss
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(alone[0], logits[0], atol=1e-5, rtol=1e-5)  # padding is ignored
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, labels))
    with torch.inference_mode():
        assert (stock(**batch).logits - logits).abs().max() > 1e-3  # not the first token


def test_the_probe_head_start_fits_the_frozen_features_of_the_training_rows(
    tiny_bert, tmp_path, monkeypatch
):
    import pandas as pd
    from transformers import AutoConfig, AutoTokenizer, DataCollatorWithPadding

    from core.train.classification import tokenize_frames
    from tests.conftest import write_reviews

    frame = pd.read_csv(write_reviews(tmp_path / "r.csv", rows=120))
    labels = ["negative", "positive"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    dataset = tokenize_frames(tokenizer, {"train": frame}, labels, 32)["train"]
    model_class = classifier_class(AutoConfig.from_pretrained(tiny_bert), "mean")
    torch.manual_seed(0)
    model = model_class.from_pretrained(tiny_bert, num_labels=2).train()
    collator = DataCollatorWithPadding(tokenizer)

    def accuracy():
        batch = collator([{"input_ids": i} for i in dataset["input_ids"]])
        with torch.inference_mode():
            predicted = model.eval()(**batch).logits.argmax(-1)
        return float((predicted == torch.tensor(dataset["labels"])).float().mean())

    before = accuracy()
    done = start_head_from_probe(model.train(), dataset, collator, n_labels=2)
    assert model.training  # given back in the mode it came in
    assert done["rows"] == 120 and done["strength"] in PROBE_STRENGTHS
    assert done["train_accuracy"] >= 0.8 > before  # a random head guesses; the probe reads
    assert accuracy() == pytest.approx(
        done["train_accuracy"], abs=1e-4
    )  # the layer holds the probe
    assert start_head_from_probe(model, dataset, collator, n_labels=3) is None  # wrong width
    # The L2 strength follows the noise training will add: none → weaker, heavy → stronger.
    strengths = []
    for dropout in (0.0, 0.5):
        noisy = model_class.from_pretrained(
            tiny_bert,
            num_labels=2,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
        )
        strengths.append(start_head_from_probe(noisy, dataset, collator, n_labels=2)["strength"])
    assert strengths[0] < strengths[1], strengths
    # Big data: a sample of max(PROBE_ROWS, 40 per label) rows is read, not every row.
    monkeypatch.setattr("core.train.heads.PROBE_ROWS", 10)
    assert start_head_from_probe(model, dataset, collator, n_labels=2)["rows"] == 80


@pytest.mark.slow
def test_a_run_on_a_sentence_transformers_base_pools_the_mean_everywhere(
    tiny_bert, reviews_csv, tmp_path, data_root, capsys
):
    """Trained with mean pooling, saved as such, and read back the same way: the accuracy the
    prediction path gives on the validation rows is the one eval.json reports."""
    from core import runs
    from core.evaluate import load_classifier
    from core.fit import fit, parse_args
    from core.predict import predict_probabilities
    from core.train.classification import prepare_frames

    base = sentence_transformers_copy(tiny_bert, tmp_path / "st-base")
    out = tmp_path / "run"
    args = ["--data", str(reviews_csv), "--model", str(base), "--preset", "quick"]
    # A few steps on a random tiny model: what is checked is how the result is read, not how good.
    short = ["--set", "training.max_steps=12", "--set", "training.logging_steps=4"]
    assert fit(parse_args([*args, "--out", str(out), *short])) == 0
    meta = json.loads((out / "adapter" / "labels.json").read_text())
    assert meta["pooling"] == "mean"
    assert "head start: fitted to the frozen features of" in (out / "train.log").read_text()
    classifier = load_classifier(out)
    assert type(classifier.model.base_model.model).__name__.startswith("MeanPooling")
    _, validation, labels = prepare_frames(runs.read_config(out))
    probabilities = predict_probabilities(classifier, validation["text"].tolist())
    predicted = [labels[i] for i in probabilities.argmax(-1)]
    accuracy = sum(p == t for p, t in zip(predicted, validation["label"], strict=True))
    assert accuracy / len(validation) == pytest.approx(runs.read_eval(out)["accuracy"])
