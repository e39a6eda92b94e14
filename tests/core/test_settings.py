import json
import typing

import pytest
import yaml

from core.settings import (
    JSON_SCHEMA_PATH,
    SECTIONS,
    ConfigError,
    RunConfig,
    describe,
    json_schema,
)
from core.settings_text import bounds_of, choices_of


def test_config_round_trips_through_its_file(tmp_path):
    config = RunConfig().replace(
        training={"learning_rate": 2e-4}, lora={"r": 4, "target_modules": ["query"]}, name="x"
    )
    loaded = RunConfig.load(config.save(tmp_path / "config.yaml"))
    assert loaded == config
    text = (tmp_path / "config.yaml").read_text()
    assert "python -m core.train --config" in text
    schema_line = text.splitlines()[0]
    assert schema_line.startswith("# yaml-language-server: $schema=")
    schema_path = (tmp_path / schema_line.split("=", 1)[1]).resolve()
    assert schema_path == JSON_SCHEMA_PATH


# The examples and their neighbours: one line naming the field, the value and the fix.
@pytest.mark.parametrize(
    "raw, line",
    [
        ({"lora": {"r": 8.5}}, "lora.r: got 8.5 — a whole number from 1 to 512, e.g. 8"),
        ({"training": {"group_by_length": "no"}}, "training.group_by_length: got 'no' — true or false"),
        ({"training": {"group_by_length": 1}}, "training.group_by_length: got 1 — true or false"),
        (
            {"lora": {"target_modules": "q_proj"}},
            "lora.target_modules: got 'q_proj' — a list of names in brackets, e.g. [q_proj, v_proj]",
        ),
        ({"training": 5}, "training: got 5 — a mapping of training settings (key: value lines)"),
        (
            {"training": {"learning_rate": "abc"}},
            "training.learning_rate: got 'abc' — a number > 0, e.g. 3e-4",
        ),
        ({"training": {"learning_rate": -1}}, "training.learning_rate: got -1 — a number > 0, e.g. 3e-4"),
        ({"training": {"learning_rate": float("nan")}}, "training.learning_rate: got nan"),
        ({"data": {"validation_fraction": 0.9}}, "data.validation_fraction: got 0.9 — a number from 0.05 to 0.5"),
        ({"model": {"task": "vision"}}, "model.task: got 'vision' — one of classification, causal_lm, seq2seq"),
        ({"model": {"trust_remote_code": True}}, "model.trust_remote_code: got True — false only"),
        ({"parallel": {"nodes": 0}}, "parallel.nodes: got 0 — a whole number ≥ 1"),
        ({"parallel": {"zero_stage": 4}}, "parallel.zero_stage: got 4 — one of 1, 2, 3"),
        ({"data": {"text_column": 5}}, "data.text_column: got 5 — text"),
        ({"name": ["a"]}, "name: got ['a'] — text"),
        ({"trainig": {}}, "trainig: unknown section — did you mean 'training'?"),
        ({"training": {"lerning_rate": 1}}, "training.lerning_rate: unknown setting — did you mean 'learning_rate'?"),
        ({"lora": {"zzz": 1}}, "lora.zzz: unknown setting — known: method, r, alpha"),
        ([1, 2], "config: got list '[1, 2]' — a mapping of sections"),
    ],
)  # fmt: skip
def test_each_bad_value_gets_one_line_naming_field_value_and_fix(raw, line):
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_dict(raw)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(line)
    assert str(caught.value) == caught.value.problems[0]


def test_every_problem_is_reported_on_its_own_line():
    raw = {"lora": {"r": 8.5, "target_modules": "q_proj"}, "training": {"optim": "adam"}}
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_dict(raw)
    paths = [line.split(":")[0] for line in str(caught.value).splitlines()]
    assert paths == ["lora.r", "lora.target_modules", "training.optim"]


def test_numeric_text_is_read_as_a_number_because_yaml_reads_3e_4_as_text(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("training:\n  learning_rate: 3e-4\n  num_train_epochs: 2\n")
    assert yaml.safe_load(path.read_text())["training"]["learning_rate"] == "3e-4"
    config = RunConfig.load(path)
    assert config.training.learning_rate == pytest.approx(3e-4)
    assert config.training.num_train_epochs == 2.0


def test_an_empty_section_keeps_its_defaults():
    assert RunConfig.from_dict({"training": None}) == RunConfig()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("training: [unclosed", "not valid YAML (line 1)"),
        ("- a\n- b\n", "config: got list"),
        ("just words", "config: got str"),
        ("training: 5\n", "training: got 5"),
        ("lora:\n  r: 8.5\n", "lora.r: got 8.5"),
    ],
)
def test_load_names_the_problem_of_a_bad_file_in_one_line(tmp_path, text, fragment):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="^[^\n]*$") as caught:
        RunConfig.load(path)
    assert fragment in str(caught.value)
    assert path.read_text() == text  # reading never rewrites the file


def test_load_reports_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no config file"):
        RunConfig.load(tmp_path / "nope.yaml")


def test_describe_gives_label_help_expert_flag_and_limits():
    info = describe("training", "learning_rate")
    assert info["label"] == "Learning rate" and info["help"] and info["expert"] is False
    assert describe("parallel", "zero_stage")["expert"] is True
    assert describe("parallel", "zero_stage")["choices"] == (1, 2, 3)
    assert (describe("lora", "r")["min"], describe("lora", "r")["max"]) == (1, 512)
    assert describe("lora", "target_modules")["default"] == []
    with pytest.raises(KeyError):
        describe("training", "nothing")


def test_the_committed_json_schema_is_the_generated_one():
    committed = json.loads(JSON_SCHEMA_PATH.read_text())
    assert committed == json_schema(), (
        "regenerate: python -c 'from core.settings import write_json_schema; write_json_schema()'"
    )
    training = committed["$defs"]["TrainingSettings"]
    assert training["additionalProperties"] is False
    assert training["properties"]["learning_rate"]["exclusiveMinimum"] == 0


def _wrong_values(annotation, info) -> list:
    """Values of the wrong type or outside the limits for one field."""
    if typing.get_origin(annotation) is typing.Literal:
        return ["not-a-choice", None, [choices_of(info)[0]]]
    if typing.get_origin(annotation) is list:
        return ["q_proj", [5], 5, {"a": 1}]
    wrong = {
        bool: ["no", 1, None, "true"],
        int: [8.5, "8", True, None, [1]],
        float: ["abc", True, None, [], float("inf")],
        str: [5, None, True, ["a"]],
    }[annotation]
    bounds = bounds_of(info)
    wrong += (
        [bounds["ge"] - 1 if annotation is int else bounds["ge"] - 0.01] if "ge" in bounds else []
    )
    wrong += [bounds["le"] + 1] if "le" in bounds else []
    wrong += [bounds["gt"]] if "gt" in bounds else []
    wrong += [bounds["lt"]] if "lt" in bounds else []
    return wrong


def _bad_configs():
    """(config, the path its one defect should be reported at): wrong values and misspelt keys."""
    cases = []
    for section, model in SECTIONS.items():
        for name, info in model.model_fields.items():
            for value in _wrong_values(model.model_fields[name].annotation, info):
                if name == "name_or_path" and value is None:
                    continue
                cases.append(({section: {name: value}}, f"{section}.{name}"))
            typo = name[:-1] if len(name) > 3 else name + "x"
            cases.append(({section: {typo: 1}}, f"{section}.{typo}"))
        cases.append(({section: "x"}, section))
        cases.append(({section + "s": {}}, section + "s"))
    return cases


def test_fuzzed_bad_configs_each_give_a_config_error_naming_the_field(tmp_path):
    cases = _bad_configs()
    assert len({repr(raw) for raw, _ in cases}) >= 200
    path = tmp_path / "config.yaml"
    for raw, field_path in cases:
        path.write_text(yaml.safe_dump(raw))
        with pytest.raises(ConfigError) as caught:
            RunConfig.load(path)
        problems = caught.value.problems
        assert len(problems) == 1, (raw, problems)
        assert problems[0].startswith(f"{field_path}:") or problems[0].startswith(
            f"{field_path}["
        ), (raw, problems)
        assert "got" in problems[0] or "unknown" in problems[0], problems


def test_numpy_scalars_from_a_page_count_as_the_python_values_they_hold():
    np = pytest.importorskip("numpy")
    config = RunConfig().replace(
        training={"max_length": np.int64(64), "group_by_length": np.bool_(False)},
        data={"validation_fraction": np.float64(0.25)},
    )
    assert config.training.max_length == 64 and type(config.training.max_length) is int
    assert config.training.group_by_length is False
    with pytest.raises(ConfigError, match="lora.r: got 8.5"):
        RunConfig().replace(lora={"r": np.float64(8.5)})
