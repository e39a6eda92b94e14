"""Every setting of a fine-tuning run, described once as a typed schema (pydantic v2 models).

The guided pages, the experts' page, the config file, the training command and the editor's JSON
Schema (assets/run-config.schema.json, `write_json_schema`) all read these models; the sections
themselves are declared in core.setting_sections and re-exported here (the small tracking section
is declared here). `describe(section, name)`
returns a setting's help, label, expert flag and limits for the widgets.

Bad values never pass silently: `RunConfig.from_dict` / `load` raise one `ConfigError` with one
line per problem, naming the field, the value and what is allowed, and for an unknown key the
closest known one. A run's whole configuration is one `RunConfig`, saved as YAML in its run
directory:

    python -m core.train --config studio-data/runs/<run>/config.yaml
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.setting_sections import (  # noqa: F401 - re-exported: the public names of the schema
    EMBEDDED_MODEL,
    PRECISIONS,
    STRATEGIES,
    TASKS,
    DataSettings,
    LoraSettings,
    ModelSettings,
    ParallelSettings,
    Section,
    TrainingSettings,
    setting,
)
from core.settings_text import field_facts, problem_lines


class TrackingSettings(Section):
    """Where a run's curves go besides the app: MLflow is on by itself (core.tracking); TensorBoard
    is asked for here, because it writes a second copy of every logged number."""

    tensorboard: bool = setting(
        False,
        "Also write TensorBoard logs to the run's tensorboard/ folder (view them with "
        "`tensorboard --logdir <data folder>/runs`). Needs the tensorboard package; without it "
        "the run goes on and says so.",
        "TensorBoard logs",
        expert=True,
    )


JSON_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "assets" / "run-config.schema.json"
SECTIONS = {
    "model": ModelSettings,
    "data": DataSettings,
    "lora": LoraSettings,
    "training": TrainingSettings,
    "parallel": ParallelSettings,
    "tracking": TrackingSettings,
}


def _plain(value: Any) -> Any:
    """numpy scalars (a page's column statistics) as the Python values they hold, in a section.

    Strict types would reject numpy.int64(64) as "not a whole number"; a YAML file never holds
    them, so this only spares the pages a conversion. np.float64(8.5) is still no int.
    """
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


class ConfigError(ValueError):
    """A setting has a value the run cannot use; the message names it and says what to do.

    `problems` holds one line per bad value (the message joins them with newlines).
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


class RunConfig(BaseModel):
    """A run's whole configuration: six sections and a name, saved as the run's config.yaml."""

    model_config = ConfigDict(strict=True, extra="forbid", title="Finetune Studio run config")

    model: ModelSettings = Field(default_factory=ModelSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    parallel: ParallelSettings = Field(default_factory=ParallelSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    name: str = Field("", description="A name for the run (shown in the job list).")

    def to_dict(self) -> dict:
        return self.model_dump()

    @classmethod
    def from_dict(cls, raw: Any) -> RunConfig:
        """Build a config from plain data (a parsed YAML file); an empty section keeps defaults.

        Raises:
            ConfigError: one line per unknown key (with the closest known one) or bad value.
        """
        if not isinstance(raw, dict):
            got = "nothing" if raw is None else f"{type(raw).__name__} {str(raw)[:40]!r}"
            problem = (
                f"config: got {got} — a mapping of sections ({', '.join(SECTIONS)}), "
                "e.g. training: {learning_rate: 3e-4}"
            )
            raise ConfigError(problem)
        raw = {
            key: ({} if value is None and key in SECTIONS else _plain(value))
            for key, value in raw.items()
        }
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            problems = problem_lines(err, cls)
            raise ConfigError("\n".join(problems), problems) from None

    def save(self, path: str | Path) -> Path:
        """Write the config as YAML whose header says how to run it and where its schema is."""
        path = Path(path)
        try:
            schema = os.path.relpath(JSON_SCHEMA_PATH, path.resolve().parent)
        except ValueError:  # another drive (Windows): the absolute path still works
            schema = JSON_SCHEMA_PATH.as_posix()
        header = (
            f"# yaml-language-server: $schema={schema}\n"
            "# Finetune Studio run config. Run it headless with:\n"
            f"#   python -m core.train --config {path}\n"
        )
        path.write_text(header + yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a config file written by `save` (or by hand).

        Raises:
            ConfigError: the file is missing, empty, not YAML, or holds a bad setting.
        """
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no config file there — give the path of a config.yaml")
        return cls.from_yaml(path.read_bytes(), str(path))

    @classmethod
    def from_yaml(cls, text: str | bytes, source: str = "config") -> RunConfig:
        """Parse and check the YAML text of a config file (`source` names it in messages).

        Raises:
            ConfigError: the text is empty, not UTF-8 YAML, or holds a bad setting.
        """
        try:
            raw = yaml.safe_load(text.decode("utf-8") if isinstance(text, bytes) else text)
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            where = getattr(err, "problem_mark", None)
            line = f" (line {where.line + 1})" if where is not None else ""
            raise ConfigError(
                f"{source}: not valid YAML{line} — write sections as 'training:' followed by "
                "indented 'learning_rate: 3e-4' lines"
            ) from None
        if raw is None:
            raise ConfigError(
                f"{source}: the file is empty — save a config from the app or write sections such "
                "as 'training: {learning_rate: 3e-4}'"
            )
        return cls.from_dict(raw)

    def replace(self, **sections: Any) -> RunConfig:
        """A copy with some sections' fields changed: replace(training={"learning_rate": 1e-3})."""
        raw = self.to_dict()
        for key, changes in sections.items():
            if key == "name" or not isinstance(changes, dict):
                raw[key] = changes
            else:
                raw.setdefault(key, {}).update(changes)
        return RunConfig.from_dict(raw)


def describe(section: str, name: str) -> dict:
    """Help text, label, expert flag, choices and limits of one setting, for building widgets.

    Raises:
        KeyError: no such setting.
    """
    if name not in SECTIONS[section].model_fields:
        raise KeyError(f"no setting {section}.{name}")
    return field_facts(SECTIONS[section], name)


def json_schema() -> dict:
    """The JSON Schema of a run config file, for editors (yaml-language-server, VS Code)."""
    schema = RunConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def write_json_schema(path: str | Path = JSON_SCHEMA_PATH) -> Path:
    """Write `json_schema()` to `path` (the committed copy: python -c 'from core.settings import
    write_json_schema; write_json_schema()')."""
    path = Path(path)
    path.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")
    return path
