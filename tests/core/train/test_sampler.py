"""Length-bucketed batches: every row once, little padding from the first step, random order."""

from __future__ import annotations

import random

import torch
from transformers.trainer_pt_utils import get_length_grouped_indices

from core.train.sampler import LengthBucketedSampler, length_bucketed_indices


def lognormal_lengths(n=480, seed=0):
    rng = random.Random(seed)
    return [min(512, max(4, int(rng.lognormvariate(4.6, 0.7)))) for _ in range(n)]


def padding(order, lengths, batch, steps=None):
    batches = [order[i : i + batch] for i in range(0, len(order), batch)][:steps]
    real = sum(lengths[i] for b in batches for i in b)
    computed = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return 1 - real / computed


def test_every_row_once_and_the_longest_row_in_the_first_batch():
    lengths = lognormal_lengths(483)  # 60 whole batches of 8 and a short one
    torch.manual_seed(0)
    order = length_bucketed_indices(lengths, 8)
    assert sorted(order) == list(range(483))
    assert max(lengths) in [lengths[i] for i in order[:8]]
    assert len(order) % 8 == 3 and order[-3:] == order[480:]  # the short batch is last, whole


def test_less_padding_than_random_and_than_transformers_early_in_a_run():
    lengths = lognormal_lengths()
    shares = {"ours": [], "transformers": [], "random": []}
    for seed in range(10):
        torch.manual_seed(seed)
        shares["ours"].append(padding(length_bucketed_indices(lengths, 8), lengths, 8, steps=20))
        torch.manual_seed(seed)
        theirs = get_length_grouped_indices(lengths, 8)
        shares["transformers"].append(padding(theirs, lengths, 8, steps=20))
        shares["random"].append(padding(torch.randperm(480).tolist(), lengths, 8, steps=20))
    mean = {k: sum(v) / len(v) for k, v in shares.items()}
    assert mean["ours"] < 0.08
    assert mean["ours"] < mean["transformers"] < mean["random"]


def test_batch_order_is_random_not_long_to_short():
    lengths = lognormal_lengths()
    torch.manual_seed(1)
    order = length_bucketed_indices(lengths, 8)
    maxima = [max(lengths[i] for i in order[k : k + 8]) for k in range(8, 480, 8)]
    descents = sum(a >= b for a, b in zip(maxima, maxima[1:], strict=False))
    assert 0.25 < descents / (len(maxima) - 1) < 0.75  # sorted would be ~1.0
    torch.manual_seed(2)
    assert length_bucketed_indices(lengths, 8) != order


def test_sampler_order_depends_on_seed_and_epoch_only():
    """set_epoch gives each epoch its own order; the same (seed, epoch) gives the same order on
    any rank and after a resume, whatever the global RNG did in between."""
    sampler = LengthBucketedSampler(lognormal_lengths(100), 4, seed=7)
    torch.manual_seed(0)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert len(sampler) == 100 and sorted(first) == sorted(second) == list(range(100))
    assert first != second
    torch.manual_seed(123)  # another rank, or a resumed process, with other global RNG state
    again = LengthBucketedSampler(lognormal_lengths(100), 4, seed=7)
    again.set_epoch(1)
    assert list(again) == second
    again.set_epoch(0)
    assert list(again) == first
    assert list(LengthBucketedSampler(lognormal_lengths(100), 4, seed=8)) != first
