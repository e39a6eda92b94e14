"""Poisson-split dropout: the same distribution as torch's dropout, the right gradient, swapped in."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.settings import RunConfig
from core.train.dropout import FastDropout, poisson_dropout, use_fast_dropout
from core.train.generative import load_model


@pytest.mark.parametrize("p", [0.05, 0.1, 0.3])
def test_each_element_is_dropped_with_probability_p_and_survivors_are_scaled(p):
    torch.manual_seed(0)
    n = 2_000_000
    out = poisson_dropout(torch.ones(n), p)
    dropped = (out == 0).float().mean().item()
    sigma = (p * (1 - p) / n) ** 0.5
    assert abs(dropped - p) < 5 * sigma
    survivors = out[out != 0]
    assert torch.allclose(survivors, torch.full_like(survivors, 1 / (1 - p)))
    assert out.mean().item() == pytest.approx(1.0, abs=5 * sigma / (1 - p))


def test_drops_are_independent_between_elements():
    torch.manual_seed(1)
    p, n = 0.2, 1_000_000
    dropped = poisson_dropout(torch.ones(n), p) == 0
    both = (dropped[:-1] & dropped[1:]).float().mean().item()  # neighbours
    far = (dropped[: n // 2] & dropped[n // 2 :]).float().mean().item()
    for joint in (both, far):
        assert joint == pytest.approx(p * p, abs=0.002)


def test_gradient_is_the_same_mask_and_scale():
    torch.manual_seed(2)
    x = torch.randn(4, 30, 16, requires_grad=True)
    weight = torch.randn(4, 30, 16)
    out = poisson_dropout(x, 0.25)
    (out * weight).sum().backward()
    kept = out != 0
    assert torch.allclose(x.grad[kept], weight[kept] / 0.75)
    assert torch.all(x.grad[~kept] == 0)


def test_non_contiguous_inputs_and_eval_mode():
    x = torch.randn(6, 8).t()  # transposed: not contiguous
    out = poisson_dropout(x, 0.5)
    kept = out != 0
    assert torch.allclose(out[kept], x[kept] * 2)
    assert poisson_dropout(x, 0.5, training=False) is x
    assert poisson_dropout(x, 0.0) is x


def test_seeded_runs_draw_the_same_masks():
    x = torch.ones(1000)
    torch.manual_seed(3)
    first = poisson_dropout(x, 0.1)
    torch.manual_seed(3)
    assert torch.equal(first, poisson_dropout(x, 0.1))
    assert not torch.equal(first, poisson_dropout(x, 0.1))


def test_lora_model_dropouts_are_swapped_and_eval_outputs_unchanged(tiny_llama):
    config = RunConfig().replace(
        model={"name_or_path": str(tiny_llama), "task": "causal_lm"},
        lora={"dropout": 0.1, "target_modules": ["all-linear"]},
    )
    model, _ = load_model(config, str(tiny_llama))
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    model.eval()
    with torch.no_grad():
        before = model(input_ids=ids).logits
    lora_dropouts = sum(
        1 for name, m in model.named_modules() if type(m) is nn.Dropout and "lora_dropout" in name
    )
    assert lora_dropouts > 0
    assert use_fast_dropout(model) >= lora_dropouts
    assert not any(type(m) is nn.Dropout and m.p > 0 for m in model.modules())
    assert any(isinstance(m, FastDropout) for m in model.modules())
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, before)
    model.train()
    torch.manual_seed(0)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    assert torch.isfinite(loss)


def test_training_with_it_ends_where_training_with_torch_dropout_ends():
    """150 small trainings each (dropout 0.3 on the inputs of a logistic regression): the final
    validation losses come from the same distribution (measured with 400 each: means 0.3200 and
    0.3199, KS p = 0.91)."""
    from scipy import stats

    torch.manual_seed(123)
    x, w_true = torch.randn(512, 64), torch.randn(64)
    y = (x @ w_true + 0.5 * torch.randn(512) > 0).long()
    x_val = torch.randn(2000, 64)
    y_val = (x_val @ w_true > 0).long()

    def final_loss(seed, drop):
        torch.manual_seed(seed)
        weights = torch.zeros(64, 2, requires_grad=True)
        optimizer = torch.optim.Adam([weights], lr=0.05)
        for _ in range(60):
            rows = torch.randint(512, (32,))
            loss = nn.functional.cross_entropy(drop(x[rows], 0.3) @ weights, y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            return nn.functional.cross_entropy(x_val @ weights, y_val).item()

    ours = [final_loss(s, poisson_dropout) for s in range(150)]
    theirs = [final_loss(s, lambda t, p: nn.functional.dropout(t, p, True)) for s in range(150)]
    assert stats.ks_2samp(ours, theirs).pvalue > 0.05
    spread = stats.tstd(theirs) / len(theirs) ** 0.5
    assert abs(sum(ours) / 150 - sum(theirs) / 150) < 3 * spread
