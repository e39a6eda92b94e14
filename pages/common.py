"""Pieces every page shares: session-state defaults, the stepper, Next buttons, setting widgets.

Not a page itself (app.py lists the pages explicitly).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.guide import STEPS, step_readiness
from core.runs import read_status
from core.settings import RunConfig, describe

STEP_PAGES = {
    "Model": "pages/model.py",
    "Data": "pages/data.py",
    "Train": "pages/train.py",
    "Results": "pages/results.py",
}


def init_state() -> None:
    """Defaults for the whole session; choices survive moving between pages."""
    st.session_state.setdefault("config", RunConfig())
    st.session_state.setdefault("mode", "Guided")
    st.session_state.setdefault("run_dir", None)
    st.session_state.setdefault("preset", "Auto")


def get_config() -> RunConfig:
    init_state()
    return st.session_state["config"]


def set_config(config: RunConfig) -> None:
    st.session_state["config"] = config


def is_expert() -> bool:
    return st.session_state.get("mode") == "Expert"


@st.cache_data(ttl=5, show_spinner=False)
def _cached_readiness(config_yaml: str, run_dir: str | None, run_state: str | None) -> dict:
    import yaml

    return step_readiness(RunConfig.from_dict(yaml.safe_load(config_yaml)), run_dir)


def readiness() -> dict[str, tuple[bool, str]]:
    import yaml

    config = get_config()
    run_dir = st.session_state.get("run_dir")
    run_state = read_status(Path(run_dir)).get("state") if run_dir else None
    # The run's state is part of the key: a finished run unlocks Results at once.
    return _cached_readiness(yaml.safe_dump(config.to_dict()), run_dir, run_state)


def stepper(current: str) -> None:
    """1 Model · 2 Data · 3 Train · 4 Results, with the current step bold and done steps ticked."""
    ready = readiness()
    parts = []
    for number, step in enumerate(STEPS, start=1):
        mark = ":material/check_circle:" if ready[step][0] else f"{number}"
        label = f"{mark} {step}"
        parts.append(f"**:violet[{label}]**" if step == current else label)
    st.markdown(" → ".join(parts))
    st.divider()


def next_button(step: str, label: str, target: str) -> None:
    """The step's primary action: go to `target`, disabled with the reason until `step` is done."""
    done, reason = readiness()[step]
    if st.button(label, type="primary", disabled=not done, key=f"next-{step}"):
        st.switch_page(target)
    if not done:
        st.caption(f":material/hourglass_empty: {reason}")


def setting_input(section: str, name: str, value, key: str | None = None):
    """A widget for one setting, labelled and explained from core.settings."""
    info = describe(section, name)
    label, help_text = info["label"], info["help"]
    key = key or f"{section}.{name}"
    if info.get("choices"):
        choices = list(info["choices"])
        return st.selectbox(
            label,
            choices,
            index=choices.index(value) if value in choices else 0,
            help=help_text,
            key=key,
        )
    if isinstance(value, bool):
        return st.toggle(label, value=value, help=help_text, key=key)
    if isinstance(value, int):
        return int(
            st.number_input(
                label,
                value=value,
                step=1,
                help=help_text,
                key=key,
                min_value=info.get("min"),
                max_value=info.get("max"),
            )
        )
    if isinstance(value, float):
        return float(
            st.number_input(
                label,
                value=value,
                help=help_text,
                key=key,
                format="%g",
                min_value=info.get("min"),
                max_value=info.get("max"),
            )
        )
    if isinstance(value, list):
        text = st.text_input(label, value=", ".join(value), help=help_text, key=key)
        return [part.strip() for part in text.split(",") if part.strip()]
    return st.text_input(label, value=value, help=help_text, key=key)


@st.cache_data(show_spinner="Looking at this machine…")
def hardware():
    """This machine's hardware, detected once per server (imports torch to ask about GPUs)."""
    from core.hardware import detect_hardware

    return detect_hardware()


def require_router() -> None:
    """Send a page that runs without the router through app.py.

    When the first request after the server starts is a deep link (say /train), Streamlit runs the
    page file directly in its old pages/-folder mode: app.py is skipped and every file in pages/ is
    listed. Leaving that mode and rerunning makes app.py run, whose st.navigation then shows the
    same page with the app's own navigation (and keeps that mode off for the whole server).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not st.session_state.get("_routed"):
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets
        st.rerun()
