"""The live view of one run, for the Train page: polled from the run directory's files.

Not a page itself (app.py lists the pages explicitly).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import streamlit as st

from core import jobs, runs
from core.plots.training import loss_figure, signals_figure
from core.train.precision import precision_text


def _progress(status: dict) -> None:
    state = status.get("state", "queued")
    if state == "queued":
        st.info(status.get("message", "Queued"), icon=":material/hourglass_top:")
    step, total = status.get("step", 0), status.get("total_steps", 0)
    eta = status.get("eta_s")
    eta_text = f" · about {eta:.0f} s left" if eta and state == "running" else ""
    st.progress(
        min(1.0, step / total) if total else 0.0,
        text=f"{state.capitalize()} · step {step} of {total or '?'}{eta_text}",
    )


def _numbers(metrics: list[dict]) -> None:
    train = [m for m in metrics if "loss" in m]
    evals = [m for m in metrics if "eval_loss" in m]
    cols = st.columns(4)
    if train:
        cols[0].metric("Training loss", f"{train[-1]['loss']:.3f}")
    if evals and "eval_accuracy" in evals[-1]:
        cols[1].metric("Validation accuracy", f"{evals[-1]['eval_accuracy']:.1%}")
    elif evals:
        cols[1].metric("Validation loss", f"{evals[-1]['eval_loss']:.3f}")
    speed = [m for m in metrics if "tokens_per_s" in m]
    if speed:
        cols[2].metric("Tokens / s", f"{speed[-1]['tokens_per_s']:,.0f}")
    step_times = [m["step_time_s"] for m in metrics if "step_time_s" in m]
    if step_times:
        cols[3].metric("Time per step", f"{step_times[-1]:.2f} s")


def _charts(metrics: list[dict]) -> None:
    left, right = st.columns([3, 1])
    smooth = right.slider("Smoothing", 0.0, 0.95, 0.6, 0.05, key="live-smooth")
    log_scale = right.toggle("Log scale", key="live-log")
    left.plotly_chart(loss_figure(metrics, smooth=smooth, log_scale=log_scale), width="stretch")
    if any("learning_rate" in m for m in metrics):
        st.plotly_chart(signals_figure(metrics), width="stretch")


def render_sample_batch(run_dir: Path) -> None:
    """What the model is trained on: the first batch decoded, the trained part highlighted."""
    path = Path(run_dir) / "sample_batch.json"
    if not path.exists():
        return
    sample = json.loads(path.read_text())
    with st.expander("What the model sees (first training batch, decoded)"):
        st.caption("Highlighted text is what the loss is computed on; the rest is context.")
        for example in sample.get("examples", [])[:3]:
            parts = [
                f"<mark>{html.escape(s['text'])}</mark>" if s["trained"] else html.escape(s["text"])
                for s in example.get("segments", [])
            ]
            label = f" → <b>{html.escape(str(example['label']))}</b>" if "label" in example else ""
            st.markdown(
                f"<div style='white-space:pre-wrap;font-family:monospace;font-size:0.85em'>"
                f"{''.join(parts)}{label}</div>",
                unsafe_allow_html=True,
            )


def render_live(run_dir: str) -> None:
    """Progress, numbers, charts, Stop, outcome and log tail of one run."""
    path = Path(run_dir)
    status = jobs.refresh_status(path)
    state = status.get("state", "queued")
    _progress(status)
    metrics = runs.read_metrics(path)
    _numbers(metrics)
    if metrics:
        _charts(metrics)
    if status.get("speed_features"):
        st.caption("Speed-ups on: " + ", ".join(status["speed_features"]))
    if precision_text(status):  # engine: the dtypes read back from the loaded model
        st.caption(f"Precision: {precision_text(status)}")
    if state in runs.ACTIVE_STATES and st.button("Stop", icon=":material/stop:"):
        jobs.stop_job(path)
    if state in ("failed", "lost"):
        st.error(status.get("message", "Training failed."), icon=":material/error:")
        st.code(runs.tail_log(path, 25) or "(the log is empty)", language="text")
    elif state in ("completed", "stopped"):
        st.success(status.get("message", "Done."), icon=":material/check_circle:")
    with st.expander("Log"):
        st.code(runs.tail_log(path, 15) or "(nothing yet)", language="text")
    if state not in runs.ACTIVE_STATES and st.session_state.get("_was_active"):
        st.session_state["_was_active"] = False
        st.rerun()  # leave polling mode: the whole page redraws once with the final state
    st.session_state["_was_active"] = state in runs.ACTIVE_STATES
