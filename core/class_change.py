"""What training changed per class: each label's validation recall at the first evaluation
(metrics.jsonl's `eval_per_class`) against the final model's (eval.json), and one plain sentence.

Pure functions over what a run directory already holds; the Results page draws them.
"""

from __future__ import annotations

from core.evaluate import per_class_report

BARELY = 0.05  # a recall change smaller than this reads as "barely moved"


def recall_changes(metrics: list[dict], evaluation: dict) -> dict | None:
    """{"first_step", "rows": [{"label", "first", "final", "change"}]} in the run's label order.

    None when the run logged no per-class scores (runs from before they were logged) or
    eval.json has no confusion matrix. A label without validation rows has no recall and is left
    out.
    """
    first = next((m for m in metrics if isinstance(m.get("eval_per_class"), dict)), None)
    if first is None or "confusion" not in evaluation or "labels" not in evaluation:
        return None
    final = per_class_report(evaluation["confusion"], evaluation["labels"])
    rows = []
    for row in final:
        before = (first["eval_per_class"].get(row["label"]) or {}).get("recall")
        if before is None or row["recall"] is None:
            continue
        rows.append(
            {
                "label": row["label"],
                "first": before,
                "final": row["recall"],
                "change": row["recall"] - before,
            }
        )
    return {"first_step": first.get("step"), "rows": rows} if rows else None


def change_summary(rows: list[dict]) -> str:
    """One line: the biggest gain, the biggest drop if any, and the labels that barely moved."""
    if not rows:
        return ""
    parts = []
    best = max(rows, key=lambda r: r["change"])
    if best["change"] >= BARELY:
        parts.append(
            f"'{best['label']}' went from {best['first']:.0%} to {best['final']:.0%} recall"
        )
    worst = min(rows, key=lambda r: r["change"])
    if worst["change"] <= -BARELY:
        parts.append(f"'{worst['label']}' fell from {worst['first']:.0%} to {worst['final']:.0%}")
    still = [r["label"] for r in rows if abs(r["change"]) < BARELY]
    if still:
        named = ", ".join(f"'{label}'" for label in still[:3])
        more = f" and {len(still) - 3} more" if len(still) > 3 else ""
        parts.append(f"{named}{more} barely moved")
    return "; ".join(parts) + "."
