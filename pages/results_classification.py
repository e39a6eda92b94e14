"""The Results page's classification report: verdict against guessing, per-class precision and
recall, confusion matrix, mistakes grouped by confusion, and the one-click next try.

Not a page itself (app.py lists the pages explicitly); pages/results.py calls `show_report`.
"""

from __future__ import annotations

import streamlit as st

from core.class_change import change_summary, recall_changes
from core.evaluate import Verdict, group_mistakes, judge, per_class_report, suggest_next_run
from core.plots.results import confusion_figure, per_class_figure, recall_change_figure
from core.settings import RunConfig
from pages.common import set_config

GROUPS_SHOWN = 8  # the biggest confusions; the matrix above shows them all
PERCENT = "%.1f%%"  # cells already in percent (in_percent): one decimal everywhere


def show_report(evaluation: dict, config: RunConfig, metrics: list[dict] | None = None) -> None:
    """Everything the run's eval.json says about a classifier, most important first; with the
    run's metrics.jsonl records, also what training changed per class."""
    verdict = judge(evaluation)
    show_metrics(evaluation, verdict)
    if verdict.level == "good":
        st.success(verdict.headline, icon=":material/check_circle:")
    else:
        st.warning(f"**{verdict.headline}** {verdict.advice}", icon=":material/warning:")
        offer_next_run(config)
    st.subheader("Where it gets confused")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(
            confusion_figure(evaluation["confusion"], evaluation["labels"]), width="stretch"
        )
    report = per_class_report(evaluation["confusion"], evaluation["labels"])
    with right:
        st.plotly_chart(per_class_figure(report), width="stretch")
    show_per_class_table(report)
    show_training_change(metrics or [], evaluation)
    show_mistakes(evaluation)


def show_training_change(metrics: list[dict], evaluation: dict) -> None:
    """Recall per class at the first evaluation against the final model, with one sentence."""
    change = recall_changes(metrics, evaluation)
    if change is None:
        return  # runs from before per-class scores were logged
    st.subheader("What training changed per class")
    st.write(change_summary(change["rows"]))
    left, right = st.columns(2)
    with left:
        st.plotly_chart(recall_change_figure(change["rows"], change["first_step"]), width="stretch")
    with right:
        st.dataframe(
            in_percent(change["rows"], ("first", "final", "change")),
            hide_index=True,
            column_config={
                "label": "Label",
                "first": st.column_config.NumberColumn(
                    "Recall, first evaluation",
                    format=PERCENT,
                    help=f"at step {change['first_step']}, the first validation pass",
                ),
                "final": st.column_config.NumberColumn("Recall, final", format=PERCENT),
                "change": st.column_config.NumberColumn("Change", format=PERCENT),
            },
        )


def show_metrics(evaluation: dict, verdict: Verdict) -> None:
    """Accuracy against guessing (green only when it clearly beats it), macro-F1, rows."""
    chance = evaluation["chance_accuracy"]
    below = verdict.lift <= -5e-4
    cols = st.columns(3)
    cols[0].metric(
        "Validation accuracy",
        f"{evaluation['accuracy']:.1%}",
        delta=f"{100 * verdict.lift:+.1f} points over guessing",
        # Green and an up arrow only for a real gain; a loss stays red; anything else is grey.
        delta_color="normal" if verdict.level == "good" or below else "off",
        delta_arrow="auto" if verdict.level == "good" or below else "off",
        help=f"Always guessing the commonest label would score {chance:.1%}.",
    )
    cols[1].metric(
        "Macro-F1",
        f"{evaluation['macro_f1']:.3f}",
        help="Average F1 over labels: rare labels count as much as common ones.",
    )
    cols[2].metric("Validation rows", f"{evaluation['n_validation']:,}")


def offer_next_run(config: RunConfig) -> None:
    """One click to the Train page with the Auto preset and a time budget, on the same data."""
    offer = suggest_next_run(config.name)
    if st.button(offer["label"], type="primary", icon=":material/auto_awesome:"):
        set_config(config)  # same model and data as this run
        st.session_state["preset"] = offer["preset"]
        st.session_state["auto_budget_minutes"] = offer["minutes"]
        st.switch_page("pages/train.py")
    st.caption(
        f"Opens the Train page with the Auto preset and a {offer['minutes']}-minute budget on "
        "the same model and data; nothing starts until you press Start."
    )


def in_percent(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """The rows with `keys` as percentages rounded to one decimal (None stays None), so every
    cell shows the same decimals (Streamlit's "percent" format drops trailing zeros: 95%, 92.5%)."""
    return [
        {k: round(v * 100, 1) if k in keys and v is not None else v for k, v in row.items()}
        for row in rows
    ]


def show_per_class_table(report: list[dict]) -> None:
    st.dataframe(
        in_percent(report, ("precision", "recall")),
        hide_index=True,
        placeholder="—",  # an undefined precision or recall, not 0
        column_config={
            "label": "Label",
            "support": st.column_config.NumberColumn("Rows", help="validation rows of this label"),
            "predicted": st.column_config.NumberColumn(
                "Predicted as it", help="rows the model gave this label"
            ),
            "precision": st.column_config.NumberColumn(
                "Precision",
                format=PERCENT,
                help="of the rows it called this label, the share that are. Empty: never predicted",
            ),
            "recall": st.column_config.NumberColumn(
                "Recall", format=PERCENT, help="of this label's rows, the share it found"
            ),
            "f1": st.column_config.NumberColumn("F1", format="%.3f"),
        },
    )


def show_mistakes(evaluation: dict) -> None:
    """One expander per (true, predicted) confusion, the biggest first, with saved examples."""
    groups = group_mistakes(evaluation)
    if not groups:
        return
    st.subheader("Examples it gets wrong")
    for group in groups[:GROUPS_SHOWN]:
        title = (
            f"True '{group['true']}', predicted '{group['predicted']}': "
            f"{group['count']} row{'s' if group['count'] != 1 else ''}"
        )
        with st.expander(title):
            if group["examples"]:
                st.dataframe(
                    [
                        {"text": m["text"], "confidence": m.get("confidence")}
                        for m in group["examples"]
                    ],
                    hide_index=True,
                    placeholder="—",  # runs from before confidences were saved
                    column_config={
                        "text": st.column_config.TextColumn("Text", width="large"),
                        "confidence": st.column_config.NumberColumn(
                            "Sure", format="percent", help="the model's probability for its answer"
                        ),
                    },
                )
            else:
                st.caption("No examples of this confusion were saved with the run.")
    if len(groups) > GROUPS_SHOWN:
        st.caption(f"{len(groups) - GROUPS_SHOWN} smaller confusions are in the matrix above.")
