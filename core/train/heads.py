"""The classifier head: how a sentence becomes one vector (pooling), and where its weights start.

Pooling. A sentence-transformers checkpoint (the embedded all-MiniLM-L6-v2 among them) was trained
to be read as the mean of its token vectors; transformers' stock classifier reads the first token
through a pooler layer that the sentence-embedding training never used. Frozen, the mean is the far better
feature (a logistic regression on it beats one on the pooled first token by 4 to 24 points on
SUBJ and TREC; BENCHMARKS.md), so a fine-tune that reads the first token spends its first hundreds
of steps learning what the mean already holds. `pooling: auto` reads the mean where the
checkpoint says it was trained that way (its `1_Pooling/config.json`), the architecture's own
head otherwise.

Head start. The head's last linear layer is fitted to the frozen model's features of the training
rows (multinomial logistic regression, its L2 strength picked on a fifth of those rows) before the
first step, instead of drawn at random: training starts where "frozen embeddings + logistic
regression" ends (linear probing, then fine-tuning; Kumar et al. 2022).

Every reader of a trained classifier (core.evaluate.load_classifier, and through it prediction,
serving and merging) builds the model with `classifier_class`, so all of them pool the same way.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

POOLING_FILE = Path("1_Pooling") / "config.json"  # sentence-transformers' pooling module
PROBE_STRENGTHS = (1e-4, 1e-3, 1e-2, 1e-1)  # L2 strengths tried for the head start
# Rows the head start reads (a random sample beyond): a linear probe on 384 features is near its
# best by a few thousand rows, and each row costs a forward pass before training starts (2,000
# AG News rows: 17 s on 2 cores, in every Auto trial).
PROBE_ROWS, PROBE_ROWS_PER_LABEL = 2_000, 40
SKIPPED = ("labels", "length")  # token dataset columns the model does not take


# Stock heads that can take a mean: a linear `classifier` after `dropout` (BERT) ...
VECTOR_HEADS = ("Bert",)
# ... or a `classifier` module that reads position 0 of what it is given (dense → tanh → out_proj).
SEQUENCE_HEADS = ("Roberta", "XLMRoberta", "MPNet", "Electra")


class PoolingError(ValueError):
    """Mean pooling was asked for a model whose head cannot read it."""


def checkpoint_pooling(model_path: str, download: bool = False) -> str:
    """ "mean" when the model's sentence-transformers pooling module takes the mean of the tokens,
    else "cls". A Hub id's module is fetched only with `download` (training, which fetches the
    model anyway; never the pages); unreachable or absent means "cls"."""
    pooling_file = Path(model_path) / POOLING_FILE
    if not Path(model_path).is_dir() and download:
        try:
            from huggingface_hub import hf_hub_download

            pooling_file = Path(hf_hub_download(model_path, POOLING_FILE.as_posix()))
        except Exception:  # noqa: BLE001 - offline, no such file, private: the stock head
            return "cls"
    try:
        modes = json.loads(pooling_file.read_text())
    except (OSError, ValueError):
        return "cls"
    return "mean" if modes.get("pooling_mode_mean_tokens") else "cls"


def resolve_pooling(setting: str, model_path: str, model_config) -> str:
    """The pooling a run uses: the setting, with "auto" read from the checkpoint.

    Raises:
        PoolingError: "mean" for a model whose classifier head cannot take a mean vector.
    """
    pooling = checkpoint_pooling(model_path, download=True) if setting == "auto" else setting
    if pooling == "mean" and not supports_mean(model_config):
        if setting == "auto":
            return "cls"
        raise PoolingError(
            f"Mean pooling is not available for {model_config.model_type} classifiers: their head "
            "reads one position by design. Set pooling to auto or cls."
        )
    return pooling


def head_words(config) -> str:
    """The classifier head of a run config in plain words, for the Train page ("" for text tasks).

    Reads only files on this machine (a Hub id is described by its setting, not downloaded)."""
    if config.model.task != "classification":
        return ""
    from core.models import resolve_model_path

    path = resolve_model_path(config.model.name_or_path)
    pooling = config.model.pooling
    if pooling == "auto" and not Path(path).is_dir():  # a Hub id: its files are read at training
        pooling = "either"
    elif pooling == "auto":
        pooling = checkpoint_pooling(path)
        if pooling == "mean":
            from transformers import AutoConfig

            pooling = resolve_pooling("auto", path, AutoConfig.from_pretrained(path))
    reads = {
        "mean": "the mean of its token vectors (how this base model was trained to be read)",
        "cls": "the architecture's own summary token",
        "either": "the mean of its token vectors if the model ships a sentence-transformers "
        "pooling file, else the architecture's own summary token",
    }[pooling]
    start = (
        "starts from a logistic regression on the frozen model's features of your training rows"
        if config.model.head_start == "probe"
        else "starts from random weights"
    )
    return f"The classifier reads {reads}; its head {start}."


def stock_class(model_config):
    """transformers' sequence-classification class for this config."""
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification._model_mapping[type(model_config)]


def supports_mean(model_config) -> bool:
    """Whether the stock head can take one vector per row (VECTOR_HEADS, SEQUENCE_HEADS)."""
    try:
        cls = stock_class(model_config)
    except KeyError:
        return False
    return cls.__name__.startswith(VECTOR_HEADS + SEQUENCE_HEADS)


_MEAN_CLASSES: dict = {}


def classifier_class(model_config, pooling: str):
    """The class to build a classifier with: the stock one, or its mean-pooling subclass (same
    weights, same names, so from_pretrained and peft load it unchanged)."""
    base = stock_class(model_config)
    if pooling != "mean":
        return base
    if base not in _MEAN_CLASSES:
        _MEAN_CLASSES[base] = type(
            f"MeanPooling{base.__name__}",
            (base,),
            {
                "forward": _mean_forward,
                "head_reads_sequence": base.__name__.startswith(SEQUENCE_HEADS),
            },
        )
    return _MEAN_CLASSES[base]


def mean_pool(hidden, attention_mask):
    """The mean of the token vectors that the attention mask keeps."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def _mean_forward(
    self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs
):
    """Forward of the mean-pooling classifiers: body → mean of the kept tokens → the stock head."""
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    body = getattr(self, self.base_model_prefix)
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
    kwargs.pop("return_dict", None)
    hidden = body(input_ids=input_ids, attention_mask=attention_mask, **extra, **kwargs)[0]
    pooled = mean_pool(hidden, attention_mask)
    if self.head_reads_sequence:  # RoBERTa's head: position 0 → dense → tanh → out_proj
        logits = self.classifier(pooled[:, None, :])
    else:  # peft may have wrapped the linear layer (modules_to_save): no isinstance test here
        logits = self.classifier(self.dropout(pooled))
    loss = None
    if labels is not None:
        loss = torch.nn.functional.cross_entropy(logits.float(), labels.view(-1))
    return SequenceClassifierOutput(loss=loss, logits=logits)


def head_layer(model):
    """The head's last linear layer (its input is one vector per row), or None."""
    import torch

    head = getattr(model, "classifier", None)
    if head is None:
        return None
    if isinstance(head, torch.nn.Linear):
        return head
    last = getattr(head, "out_proj", None)
    return last if isinstance(last, torch.nn.Linear) else None


def batches_by_length(dataset, collator, rows=None, batch_size: int = 64):
    """(order, batches): `rows` of a token dataset (indices; default all) sorted by length, so
    little padding is computed, and a generator of their collated batches in that order. Results
    go back into the rows' order with `restored[order] = results`."""
    import numpy as np

    rows = np.arange(len(dataset)) if rows is None else np.asarray(rows)
    order = np.argsort(np.asarray(dataset["length"])[rows], kind="stable")

    def batches():
        for start in range(0, len(order), batch_size):
            yield collator(
                [
                    {k: v for k, v in dataset[int(rows[i])].items() if k not in SKIPPED}
                    for i in order[start : start + batch_size]
                ]
            )

    return order, batches()


def head_features(model, layer, dataset, rows, collator, dropout: bool = False, batch_size=64):
    """What `layer` receives for each of `rows` (indices into the token dataset), in their order:
    the model in eval mode, or in train mode with `dropout` (as the training steps see it)."""
    import torch

    captured = []
    hook = layer.register_forward_hook(lambda _m, args, _out: captured.append(args[0].detach()))
    order, batches = batches_by_length(dataset, collator, rows, batch_size)
    device = next(model.parameters()).device
    was_training = model.training
    model.train(dropout)
    try:
        with torch.inference_mode():
            for batch in batches:
                model(**{k: v.to(device) for k, v in batch.items()})
    finally:
        hook.remove()
        model.train(was_training)
    features = torch.cat(captured).float().cpu()
    restored = torch.empty_like(features)
    restored[torch.as_tensor(order)] = features
    return restored


def fit_probe(features, labels, n_labels: int, strength: float, steps: int = 100):
    """(weight, bias) of an L2-regularised multinomial logistic regression (L-BFGS from zeros)."""
    import torch

    weight = torch.zeros(n_labels, features.shape[1], requires_grad=True)
    bias = torch.zeros(n_labels, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], max_iter=steps, line_search_fn="strong_wolfe", tolerance_grad=1e-6
    )

    def closure():
        optimizer.zero_grad()
        logits = features @ weight.T + bias
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss = loss + strength * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return weight.detach(), bias.detach()


def start_head_from_probe(model, dataset, collator, n_labels: int) -> dict | None:
    """Set the head's last linear layer to a probe fitted on the frozen features of `dataset`'s
    rows; returns what was done ({"rows", "strength", "train_accuracy"}) or None where the head
    has no such layer (decoder classifiers read a position of a sequence).

    The L2 strength is the one whose probe, fitted on four fifths of the rows, has the lowest
    cross-entropy on the rest as training will see them (dropout on). Cross-entropy, not
    accuracy: accuracy ties on separable rows and would keep the weakest strength, whose large
    weights swing the loss under dropout and as soon as fine-tuning moves the features (runs on a
    small random model diverged). The global random state is left as it was, so the adapter's
    weights and the data order do not depend on the head start.
    """
    import numpy as np
    import torch

    layer = head_layer(model)
    if layer is None or layer.out_features != n_labels:
        return None
    limit = max(PROBE_ROWS, PROBE_ROWS_PER_LABEL * n_labels)
    rows = np.random.default_rng(0).permutation(len(dataset))[:limit]
    labels = torch.as_tensor(np.asarray(dataset["labels"])[rows])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        features = head_features(model, layer, dataset, rows, collator)
        cut = max(1, math.ceil(len(rows) * 0.8))
        noisy = head_features(model, layer, dataset, rows[cut:], collator, dropout=True)
    strength, losses = max(PROBE_STRENGTHS), {}
    for candidate in PROBE_STRENGTHS if len(noisy) else ():
        weight, bias = fit_probe(features[:cut], labels[:cut], n_labels, candidate)
        logits = noisy @ weight.T + bias
        losses[candidate] = float(torch.nn.functional.cross_entropy(logits, labels[cut:]))
    if losses:
        strength = min(losses, key=losses.get)
    weight, bias = fit_probe(features, labels, n_labels, strength)
    with torch.no_grad():
        layer.weight.copy_(weight.to(layer.weight.dtype))
        if layer.bias is not None:
            layer.bias.copy_(bias.to(layer.bias.dtype))
    accuracy = float(((features @ weight.T + bias).argmax(-1) == labels).float().mean())
    return {"rows": len(rows), "strength": strength, "train_accuracy": round(accuracy, 4)}
