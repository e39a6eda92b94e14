import pytest

from core.settings import ConfigError, RunConfig, describe


def test_config_round_trips_through_its_file(tmp_path):
    config = RunConfig().replace(
        training={"learning_rate": 2e-4}, lora={"r": 4, "target_modules": ["query"]}, name="x"
    )
    loaded = RunConfig.load(config.save(tmp_path / "config.yaml"))
    assert loaded == config
    assert "python -m core.train --config" in (tmp_path / "config.yaml").read_text()


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"trainig": {}}, "unknown config section"),
        ({"training": {"lerning_rate": 1}}, "lerning_rate"),
        ({"training": {"learning_rate": -1}}, "learning_rate has an unusable value: -1"),
        ({"lora": {"r": 0}}, "got 0"),
        ({"data": {"validation_fraction": 0.9}}, "got 0.9"),
        ({"model": {"task": "vision"}}, "'vision'"),
        ({"parallel": {"nodes": 0}}, "at least 1"),
        ([1, 2], "mapping"),
    ],
)
def test_bad_settings_are_rejected_with_the_value(raw, fragment):
    with pytest.raises(ConfigError, match=fragment):
        RunConfig.from_dict(raw)


def test_load_reports_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="no config file"):
        RunConfig.load(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("training: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        RunConfig.load(broken)


def test_describe_gives_label_help_and_expert_flag():
    info = describe("training", "learning_rate")
    assert info["label"] == "Learning rate" and info["help"] and info["expert"] is False
    assert describe("parallel", "zero_stage")["expert"] is True
    with pytest.raises(KeyError):
        describe("training", "nothing")
