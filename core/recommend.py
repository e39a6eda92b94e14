"""Recommend for me: rank the models that fit the hardware within a time or money budget."""

from __future__ import annotations

from dataclasses import dataclass

from core.catalog import ModelFacts, filter_models
from core.estimate import estimate, estimate_memory
from core.settings import RunConfig


@dataclass
class Recommendation:
    """A model that fits, with the estimate behind it and the reason in plain words."""

    facts: ModelFacts
    estimate: object  # core.estimate.Estimate
    settings: dict  # RunConfig.replace(**settings) gives the run that was estimated
    reason: str
    within_budget: bool


def fits_hardware(plan, config=None, options=None):
    """A predicate for filter_models(fits=...): the model's peak fits the planned device."""
    base = config or RunConfig()

    def fits(facts: ModelFacts) -> bool:
        trial = base.replace(model={"name_or_path": facts.name_or_path, "task": facts.tasks[0]})
        return estimate_memory(trial, facts, plan, options).total <= plan.memory_gb

    return fits


def recommend_models(
    task: str,
    plan,
    config=None,
    options=None,
    budget_hours: float = 0.0,
    budget_usd: float = 0.0,
    models: list[ModelFacts] | None = None,
    limit: int = 5,
) -> list[Recommendation]:
    """Rank the models that can learn `task` on `plan` within a time or money budget.

    Each model is estimated with the run's settings; one that does not fit gets the first change
    that makes it fit (e.g. gradient checkpointing). Among those within budget the largest model
    ranks first (more parameters usually learn more); if none is within budget, the fastest come.

    Args:
        task: one of core.settings.TASKS.
        plan: core.hardware.HardwarePlan.
        config: the run so far (batch, length, rank...); default RunConfig().
        options: core.estimate.EstimateOptions with the data size.
        budget_hours, budget_usd: 0 = no limit.

    Returns:
        Up to `limit` recommendations, best first.
    """
    base, found = config or RunConfig(), []
    for facts in filter_models(models, task=task):
        settings = {"model": {"name_or_path": facts.name_or_path, "task": task}}
        result = estimate(base.replace(**settings), facts, plan, options)
        changed = ""
        if result.verdict == "won't fit":
            fix = next((f for f in result.fixes if not f.options), None)
            if fix is None:
                continue
            settings = {**fix.settings, **settings}
            result = estimate(base.replace(**settings), facts, plan, options, with_fixes=False)
            changed = f" after: {fix.change.lower()}"
        within = (not budget_hours or result.hours.value <= budget_hours) and (
            not budget_usd or result.cost_usd.value <= budget_usd
        )
        reason = (
            f"{facts.size_label} parameters; uses {result.memory.total:.1f} of "
            f"{result.capacity_gb:.0f} GB{changed}; about "
            f"{result.hours.value * 60:.0f} min, ${result.cost_usd.value:.2f}"
        )
        found.append(Recommendation(facts, result, settings, reason, within))
    within = sorted((r for r in found if r.within_budget), key=lambda r: -r.facts.params)
    if within:
        for r in within:
            r.reason = f"Within your budget: {r.reason}"
        return within[:limit]
    fastest = sorted(found, key=lambda r: r.estimate.hours.value)
    for r in fastest:
        r.reason = f"Over your budget, but the quickest that fits: {r.reason}"
    return fastest[:limit]
