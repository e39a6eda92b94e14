"""Expert settings: every parallelism and training knob, checked, with the launch files to export.

Edits the same `RunConfig` as the guided pages (st.session_state["config"]), so switching between
the two views loses nothing. Validation, file generation and "what really runs" live in
core.launch; this page only lays them out.
"""

import hashlib
import tempfile
from pathlib import Path

import streamlit as st

from core import jobs
from core.guide import data_ready
from core.launch import files
from core.launch.batch import data_parallel_size, global_batch_size
from core.launch.local import effective_strategy
from core.launch.validate import ERROR, validate_parallel
from core.models import resolve_model_path
from core.paths import PathRefused, confine_config, confine_start_adapter
from core.settings import ConfigError, RunConfig, describe
from core.tracking import tensorboard_available
from core.train.preflight import start_adapter_problem
from pages.cluster import cluster_section
from pages.common import get_config, require_router, set_config, setting_input
from pages.common import hardware as common_hardware
from pages.data_admin import is_admin

require_router()

KEY = "expert."  # prefix of this page's widget keys, cleared when a config file is opened


def _input(section: str, name: str, config: RunConfig):
    return setting_input(
        section, name, getattr(getattr(config, section), name), key=f"{KEY}{section}.{name}"
    )


@st.cache_data(show_spinner="Reading the model's layers…")
def _linear_layers(name_or_path: str, task: str) -> list[str]:
    from core.launch.modules import linear_layer_names

    return linear_layer_names(resolve_model_path(name_or_path), task)


def _layout(config: RunConfig) -> dict:
    st.subheader("Layout and strategy")
    left, middle, right = st.columns(3)
    with left:
        changes = {"nodes": _input("parallel", "nodes", config)}
    with middle:
        changes["processes_per_node"] = _input("parallel", "processes_per_node", config)
    with right:
        changes["strategy"] = _input("parallel", "strategy", config)
    strategy = changes["strategy"]
    if strategy == "fsdp":
        left, right = st.columns(2)
        with left:
            changes["fsdp_sharding"] = _input("parallel", "fsdp_sharding", config)
        with right:
            changes["fsdp_cpu_offload"] = _input("parallel", "fsdp_cpu_offload", config)
    if strategy == "deepspeed":
        left, middle, right = st.columns(3)
        for column, name in zip(
            (left, middle, right),
            ("zero_stage", "offload_optimizer", "offload_params"),
            strict=True,
        ):
            with column:
                changes[name] = _input("parallel", name, config)
        if "nvme" in (changes["offload_optimizer"], changes["offload_params"]):
            changes["nvme_path"] = _input("parallel", "nvme_path", config)
    left, right = st.columns(2)
    with left:
        changes["tensor_parallel"] = _input("parallel", "tensor_parallel", config)
        st.caption(":orange-badge[GPU clusters only] splits each layer over GPUs of one node.")
    with right:
        changes["launcher"] = _input("parallel", "launcher", config)
    with st.expander("Rendezvous (several nodes)", expanded=changes["nodes"] > 1):
        for name in ("master_addr", "master_port", "rdzv_backend"):
            changes[name] = _input("parallel", name, config)
    return changes


def _training(config: RunConfig) -> dict:
    st.subheader("Training")
    groups = [
        (
            "Precision and speed",
            ["precision", "gradient_checkpointing", "torch_compile", "group_by_length"],
        ),
        ("Batches", ["per_device_train_batch_size", "gradient_accumulation_steps", "max_length"]),
        (
            "Optimizer",
            [
                "optim",
                "learning_rate",
                "lr_scheduler_type",
                "warmup_ratio",
                "weight_decay",
                "max_grad_norm",
                "label_smoothing_factor",
            ],
        ),
        (
            "Length, seed and data loading",
            ["num_train_epochs", "max_steps", "seed", "dataloader_num_workers"],
        ),
        (
            "Checkpoints and logging",
            ["eval_steps", "save_total_limit", "early_stopping_patience", "logging_steps"],
        ),
    ]
    changes = {}
    for title, names in groups:
        st.markdown(f"**{title}**")
        columns = st.columns(3)
        for index, name in enumerate(names):
            with columns[index % 3]:
                changes[name] = _input("training", name, config)
    return changes


def _module_choices(config: RunConfig) -> list[str]:
    try:
        names = _linear_layers(config.model.name_or_path, config.model.task)
    except ConfigError as err:
        st.warning(f"{err} Type module names instead.", icon=":material/warning:")
        return []
    except Exception:  # noqa: BLE001 - a Hub id that is not downloaded, an odd config
        st.warning(
            f"Cannot read the layers of '{config.model.name_or_path}' on this machine; "
            "type module names instead.",
            icon=":material/warning:",
        )
        return []
    return names


def _lora(config: RunConfig) -> dict:
    st.subheader("Adapter (LoRA)")
    names = _module_choices(config)
    if not names:
        return {
            name: _input("lora", name, config) for name in ("target_modules", "modules_to_save")
        }
    changes = {}
    for name, extra in (("target_modules", ["all-linear"]), ("modules_to_save", [])):
        current = getattr(config.lora, name)
        options = extra + names + [n for n in current if n not in names + extra]
        info = describe("lora", name)
        changes[name] = st.multiselect(
            info["label"], options, default=current, help=info["help"], key=f"{KEY}lora.{name}"
        )
    left, middle, right = st.columns(3)
    for column, name in zip((left, middle, right), ("r", "alpha", "dropout"), strict=True):
        with column:
            changes[name] = _input("lora", name, config)
    changes["init_from"] = _start_adapter(config)
    return changes


def _start_adapter(config: RunConfig) -> str:
    """The adapter to start from, typed as a path: kept only inside the allowed folders or this
    user's own runs (an earlier run's adapter/ folder)."""
    typed = _input("lora", "init_from", config).strip()
    if not typed or typed == config.lora.init_from:
        return typed
    try:
        return confine_start_adapter(typed)
    except PathRefused as err:
        st.error(str(err), icon=":material/error:")
        return config.lora.init_from


def _head(config: RunConfig) -> tuple[dict, dict]:
    """(model, training) changes: pooling, head start and the head's learning-rate scale, for
    classifiers only (text tasks have no classifier head)."""
    if config.model.task != "classification":
        return {}, {}
    st.subheader("Classifier head")
    left, middle, right = st.columns(3)
    with left:
        changes = {"pooling": _input("model", "pooling", config)}
    with middle:
        changes["head_start"] = _input("model", "head_start", config)
    with right:
        rate = {"head_lr_scale": _input("training", "head_lr_scale", config)}
    return changes, rate


def _memory_section(config: RunConfig, hardware) -> None:
    """Per-device memory for this layout, and what each strategy would need (core.estimate)."""
    from core.catalog import ModelSourceError, resolve_model
    from core.estimate import compare_strategies, estimate_memory
    from core.hardware import plan_from_hardware
    from core.plots.estimate import memory_breakdown_chart, strategy_comparison_chart

    st.subheader("Memory per device")
    plan = st.session_state.get("plan") or plan_from_hardware(hardware)
    try:
        facts = resolve_model(config.model.name_or_path)
    except ModelSourceError as err:
        st.caption(f"No estimate: {err}")
        return
    memory = estimate_memory(config, facts, plan)
    st.caption(
        f"{memory.total:.1f} GB per device of {plan.memory_gb:.0f} GB on {plan.label} "
        "(estimate; the Model page shows where each number comes from)."
    )
    left, right = st.columns(2)
    left.plotly_chart(memory_breakdown_chart(memory, plan.memory_gb))
    right.plotly_chart(
        strategy_comparison_chart(compare_strategies(config, facts, plan), plan.memory_gb)
    )


def _checks(config: RunConfig, hardware) -> bool:
    """Validation messages; True when no error blocks the run."""
    st.subheader("Checks")
    training = config.training
    st.metric(
        "Global batch (examples per update)",
        global_batch_size(config),
        help="micro batch × gradient accumulation × data-parallel processes",
    )
    st.caption(
        f"{training.per_device_train_batch_size} per device × "
        f"{training.gradient_accumulation_steps} accumulation × {data_parallel_size(config)} "
        "process(es)"
    )
    target = st.number_input(
        "Wanted global batch (0: no target)",
        min_value=0,
        value=0,
        step=1,
        key=f"{KEY}target_global_batch",
    )
    problems = validate_parallel(config, hardware, int(target) or None)
    for problem in problems:
        show = st.error if problem.severity == ERROR else st.warning
        where = " (on this machine)" if problem.scope == "machine" else ""
        show(f"**{problem.setting}**{where}: {problem.message}")
    adapter = start_adapter_problem(config)
    if adapter:
        st.error(adapter, icon=":material/error:")
    strategy, explanation = effective_strategy(config, hardware)
    st.info(f"On this machine ({hardware.device_label}) this runs as **{strategy}**: {explanation}")
    if not problems and not adapter:
        st.success("No problems found.", icon=":material/check_circle:")
    return not adapter and not any(p.severity == ERROR for p in problems)


def _exports(config: RunConfig, hardware) -> None:
    st.subheader("Launch files and commands")
    exported = files.generated_files(config)
    if not hardware.gpus and config.parallel.world_size > 1:
        exported["accelerate_config_cpu.yaml"] = files.accelerate_config_yaml(config, cpu=True)
    for name, text in exported.items():
        language = {"yaml": "yaml", "json": "json"}.get(name.rsplit(".", 1)[-1], "bash")
        with st.expander(name):
            st.code(text, language=language)
            st.download_button(
                f"Download {name}", text, file_name=name, key=f"{KEY}download.{name}"
            )
    for launcher, argv in files.launch_commands(config).items():
        st.markdown(f"**{launcher}**")
        st.code(files.shell_line(argv), language="bash")


def _run_here(config: RunConfig, hardware, checks_pass: bool) -> None:
    """Launch this exact config on the local devices (torchrun / accelerate for several processes)."""
    st.subheader("Run on this machine")
    strategy, _ = effective_strategy(config, hardware)
    data_ok, data_reason = data_ready(config)
    reasons = []
    if not checks_pass:
        reasons.append("fix the errors under Checks first")
    if strategy == "none":
        reasons.append("this strategy cannot run on this machine (export the files instead)")
    if config.parallel.nodes > 1:
        reasons.append("several nodes run through the Slurm script, not from here")
    if not data_ok:
        reasons.append(data_reason[0].lower() + data_reason[1:])
    command = (
        files.shell_line(jobs.train_command(Path("RUN_DIR/config.yaml"), config))
        if not (config.parallel.nodes > 1)
        else ""
    )
    if command:
        st.code(command, language="bash")
    if st.button("Run on this machine", type="primary", disabled=bool(reasons), key=f"{KEY}run"):
        run_dir = jobs.start_job(config.replace(name=f"expert-{strategy}"))
        st.session_state["run_dir"] = str(run_dir)
        st.switch_page("pages/train.py")
    if reasons:
        st.caption("Not yet: " + "; ".join(reasons) + ".")


def _save_and_open(config: RunConfig) -> None:
    st.subheader("Save or open an expert config")
    with tempfile.TemporaryDirectory() as folder:
        text = config.save(Path(folder) / "config.yaml").read_text()
    st.download_button("Save expert config", text, file_name="expert_config.yaml", key=f"{KEY}save")
    upload = st.file_uploader("Open expert config", type=["yaml", "yml"], key=f"{KEY}open")
    if upload is None:
        return
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if st.session_state.get("expert_opened") == digest:
        st.success(f"Opened {upload.name}.", icon=":material/check_circle:")
        return
    try:
        # an admin may name any user's upload or version, as on the Data page
        opened = confine_config(RunConfig.from_yaml(data, upload.name), every_user=is_admin())
    except ConfigError as err:
        lines = "\n".join(f"- {problem}" for problem in err.problems)
        st.error(
            f"**{upload.name}** cannot be opened; nothing was changed:\n\n{lines}",
            icon=":material/error:",
        )
        return
    st.session_state["expert_opened"] = digest
    set_config(opened)
    st.session_state["_expert_show"] = opened  # the widgets take its values on the next run
    st.rerun()


def _show_opened() -> None:
    """Set this page's widgets to the opened file's values, before any widget is drawn.

    Deleting their state is not enough in a browser: it keeps each widget's last value and sends
    it back with the next click, which overwrote the opened training settings (a real browser
    showed it: tests/e2e/test_server_restart.py). A value is set where the setting and the
    widget's value agree in type; other widget state (buttons, text for lists) is dropped.
    """
    opened = st.session_state.pop("_expert_show", None)
    if opened is None:
        return
    for key in [k for k in st.session_state if str(k).startswith(KEY) and k != f"{KEY}open"]:
        section, _, name = key[len(KEY) :].partition(".")
        value = getattr(getattr(opened, section, None), name, None) if name else None
        if value is not None and type(value) is type(st.session_state[key]):
            st.session_state[key] = value
        else:
            del st.session_state[key]


st.header("Expert settings")
st.write(
    "Every parallelism and training setting, checked before anything runs, with the files "
    "the engines you already use need. The guided pages edit the same settings."
)
_show_opened()
config = get_config()
hardware = common_hardware()
parallel = _layout(config)
training = _training(config)
lora = _lora(config)
head, head_rate = _head(config)
st.subheader("Tracking")
tracking = {"tensorboard": _input("tracking", "tensorboard", config)}
if tracking["tensorboard"] and not tensorboard_available():
    st.warning(
        "The tensorboard package is not installed here: runs go on without TensorBoard logs and "
        'say so. Install it with `pip install -e ".[tracking]"`.',
        icon=":material/warning:",
    )
try:
    edited = config.replace(
        parallel=parallel,
        training={**training, **head_rate},
        lora=lora,
        tracking=tracking,
        model=head,
    )
except ConfigError as err:
    lines = "\n".join(f"- {problem}" for problem in err.problems)
    st.error(f"Not applied:\n\n{lines}", icon=":material/error:")
    edited = config
if edited != config:
    set_config(edited)
_memory_section(edited, hardware)
checks_pass = _checks(edited, hardware)
_run_here(edited, hardware, checks_pass)
cluster_section(edited, checks_pass)
_exports(edited, hardware)
_save_and_open(edited)
