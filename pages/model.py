"""Step 1 · Model: the embedded default, the catalog, a local folder or a Hub id, with an estimate."""

import streamlit as st

from core.catalog import (
    CATALOG,
    SIZE_BUCKETS,
    ModelSourceError,
    filter_models,
    find_in_catalog,
    list_cached_models,
    read_local_model,
    resolve_model,
)
from core.estimate import EstimateOptions, compare_strategies, estimate
from core.hardware import GPU_SPECS, calibrate_cpu, plan_from_hardware, plan_gpus
from core.models import ModelError, check_model_source
from core.paths import confine_source
from core.plots.estimate import memory_breakdown_chart, strategy_comparison_chart
from core.recommend import fits_hardware, recommend_models
from core.settings import EMBEDDED_MODEL, TASKS
from pages.common import get_config, hardware, next_button, require_router, set_config, stepper

require_router()

VERDICT_BOX = {"fits": st.success, "tight": st.warning, "won't fit": st.error}


def catalog_choice(config, task: str) -> str:
    """Filters and the list of known models (the catalog plus the ones in the local HF cache)."""
    cached = list_cached_models()
    left, middle, right = st.columns(3)
    size = middle.selectbox("Size", ["Any size", *SIZE_BUCKETS])
    licence = right.selectbox("Licence", ["Any licence", "permissive"])
    only_fitting = left.checkbox("Only models that fit my hardware", value=False)
    models = filter_models(
        CATALOG + cached,
        task=task,
        size="" if size == "Any size" else size,
        licence="" if licence == "Any licence" else licence,
        fits=fits_hardware(st.session_state["plan"], config) if only_fitting else None,
    )
    if not models:
        st.warning("No model matches these filters; widen the size or licence.")
        return config.model.name_or_path
    labels = {
        m.name_or_path: f"{m.name} · {m.size_label} · {m.licence}"
        + (" · on this machine" if m.source == "on this machine" else "")
        for m in models
    }
    keys = list(labels)
    current = config.model.name_or_path
    return st.selectbox(
        "Model",
        keys,
        index=keys.index(current) if current in keys else 0,
        format_func=labels.get,
        key="catalog-model",
    )


def hardware_plan():
    """Detected hardware, or GPUs to plan for; stored in session state for filters and estimates."""
    found = hardware()
    where = st.radio(
        "Hardware",
        [
            f"This computer ({found.device_label}, {found.ram_gb:.0f} GB)",
            "Plan for GPUs I don't have here",
        ],
        horizontal=True,
    )
    if where.startswith("This computer"):
        return plan_from_hardware(found)
    left, middle, right = st.columns(3)
    kind = left.selectbox("GPU", list(GPU_SPECS), index=list(GPU_SPECS).index("A100 80GB"))
    per_node = middle.number_input("GPUs per node", 1, 16, 1)
    nodes = right.number_input("Nodes", 1, 64, 1)
    return plan_gpus(kind, int(per_node), int(nodes))


def model_facts(name_or_path: str, found):
    """Facts for the estimate; None (with the reason shown) when they cannot be read."""
    try:
        if found is not None and found.kind == "local":
            return read_local_model(found.path)
        return resolve_model(name_or_path)
    except ModelSourceError as err:
        st.caption(f"No estimate for this model yet: {err}")
        return None


def show_estimate(config, facts, plan, options) -> None:
    result = estimate(config, facts, plan, options)
    VERDICT_BOX[result.verdict](result.summary(), icon=":material/speed:")
    if result.hours.source == "assumed" and plan.device == "cpu":
        if st.button("Measure this computer's speed (a few seconds)"):
            calibrate_cpu(force=True)
            st.rerun()
    for fix in result.fixes:
        st.markdown(f"- **{fix.change}** → {fix.peak_gb:.1f} GB ({fix.verdict}; {fix.side_effect})")
    settings_fix = next((f for f in result.fixes if not f.options), None)
    if settings_fix and st.button(f"Apply: {settings_fix.change}"):
        set_config(config.replace(**settings_fix.settings))
        st.rerun()
    with st.expander("Memory breakdown and where each number comes from"):
        st.plotly_chart(memory_breakdown_chart(result.memory, result.capacity_gb))
        rows = [
            {
                "What": "Memory",
                "Value": f"{result.memory.total:.2f} GB",
                "Source": result.memory_source,
                "Note": "per device, at the peak",
            }
        ]
        for label, figure in (
            ("Tokens", result.tokens),
            ("Time", result.hours),
            ("Cost", result.cost_usd),
            ("Energy", result.energy_kwh),
            ("CO2e", result.co2_kg),
        ):
            rows.append(
                {
                    "What": label,
                    "Value": f"{figure.value:,.3g} {figure.unit}",
                    "Source": figure.source,
                    "Note": figure.note,
                }
            )
        st.dataframe(rows, hide_index=True)
        if plan.devices > 1:
            by = compare_strategies(config, facts, plan, options)
            st.plotly_chart(strategy_comparison_chart(by, plan.memory_gb))


def recommend_section(config, plan, options) -> None:
    with st.expander("Recommend for me"):
        kind = st.radio("My budget is", ["time (minutes)", "money ($)"], horizontal=True)
        amount = st.number_input("Budget", min_value=0.0, value=30.0, key="budget")
        if st.button("Recommend"):
            hours, usd = (amount / 60, 0.0) if kind.startswith("time") else (0.0, amount)
            st.session_state["recommendations"] = recommend_models(
                config.model.task, plan, config, options, budget_hours=hours, budget_usd=usd
            )
        for rank, rec in enumerate(st.session_state.get("recommendations", []), start=1):
            st.markdown(f"{rank}. **{rec.facts.name}**: {rec.reason}")
            if st.button(f"Use {rec.facts.name}", key=f"use-{rec.facts.name_or_path}"):
                set_config(config.replace(**rec.settings))
                st.rerun()


stepper("Model")
st.header("Choose a model")
st.write(
    "The model is the starting point: it already knows language; training teaches it your task."
)

config = get_config()
current = config.model.name_or_path
sources = [
    "Embedded default (works offline)",
    "A folder on this computer",
    "Hugging Face Hub id",
    "From the catalog",
]
if "model_source" not in st.session_state:  # first visit: where the current model comes from
    if current == EMBEDDED_MODEL:
        st.session_state["model_source"] = sources[0]
    elif current.startswith(("/", ".", "~")):
        st.session_state["model_source"], st.session_state["model_folder"] = sources[1], current
    elif find_in_catalog(current):
        st.session_state["model_source"] = sources[3]
    else:
        st.session_state["model_source"], st.session_state["model_hub"] = sources[2], current
# Keyed widgets keep the user's choice; an index derived from the config would reset them.
source = st.radio("Where is the model?", sources, key="model_source")
st.session_state["plan"] = hardware_plan()

if source == sources[0]:
    choice = EMBEDDED_MODEL
    st.info(
        "**all-MiniLM-L6-v2** · 22.7 M parameters · a small, fast English encoder for text "
        "classification. It ships with the app, so it works without internet."
    )
elif source == sources[1]:
    choice = st.text_input(
        "Model folder",
        key="model_folder",
        placeholder="/path/to/model (the folder with config.json and model.safetensors)",
    ).strip()
elif source == sources[2]:
    choice = st.text_input(
        "Hub id",
        key="model_hub",
        placeholder="owner/model, e.g. distilbert/distilbert-base-uncased",
    ).strip()
else:
    task = st.selectbox("Task", TASKS, index=TASKS.index(config.model.task))
    if task != config.model.task:
        config = config.replace(model={"task": task})
        set_config(config)
    choice = catalog_choice(config, task)

if choice != current:
    set_config(config.replace(model={"name_or_path": choice}))
    config = get_config()
found, can_estimate = None, False
if choice:
    try:
        with st.spinner("Checking the model…"):
            found = check_model_source(confine_source(choice))
    except ModelError as err:
        if source == sources[3]:
            st.warning(f"You can plan with this model; to train it the app needs its files: {err}")
        else:
            st.error(str(err), icon=":material/error:")
    else:
        st.success(f"Ready: {found.description}.", icon=":material/check_circle:")
    can_estimate = found is not None or source == sources[3]

st.subheader("Will it fit, and how long will it take?")
rows = st.number_input("About how many training examples?", min_value=1, value=1000, step=100)
options = EstimateOptions(dataset_rows=int(rows))
facts = model_facts(choice, found) if can_estimate else None
if facts is not None:
    show_estimate(config, facts, st.session_state["plan"], options)
recommend_section(config, st.session_state["plan"], options)

next_button("Model", "Next: your data", "pages/data.py")
