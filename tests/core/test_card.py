"""The reproducibility card and "Reproduce": a run rebuilt from its card alone matches."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from core import jobs, runs
from core.card import (
    CARD_FILE,
    environment_differences,
    folder_hash,
    model_revision,
    read_card,
)
from core.card import (
    main as card_main,
)
from core.export import adapter_zip
from core.reproduce import (
    LOSS_TOLERANCE,
    ReproduceError,
    check_card,
    compare_runs,
    start_reproduction,
    summary_lines,
)
from core.reproduce import (
    main as reproduce_main,
)
from core.settings import RunConfig


@pytest.fixture(scope="module")
def tiny_run(tiny_bert, tmp_path_factory):
    from tests.conftest import write_reviews

    root = tmp_path_factory.mktemp("card-runs")
    data = write_reviews(root / "reviews.csv", rows=120)
    config = RunConfig().replace(
        model={"name_or_path": str(tiny_bert)},
        data={"path": str(data)},
        training={"max_steps": 12, "per_device_train_batch_size": 8, "max_length": 24},
        lora={"r": 4, "alpha": 8},
        name="tiny",
    )
    run_dir = jobs.start_job(config, root=root)
    status = jobs.wait_for(run_dir, timeout=300)
    assert status["state"] == "completed", runs.tail_log(run_dir)
    return run_dir


def test_card_holds_what_a_rerun_needs(tiny_run, tiny_bert):
    card = read_card(tiny_run)
    assert card["model"] == {
        "name_or_path": str(tiny_bert),
        "kind": "local",
        "revision": folder_hash(tiny_bert),
    }
    config = runs.read_config(tiny_run)
    assert card["config"] == config.to_dict()
    assert card["data"]["fingerprint"] == config.data.fingerprint != ""
    assert card["seeds"] == {"training": 42, "split": 42}
    import torch
    import transformers

    assert card["versions"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert card["versions"]["transformers"] == transformers.__version__
    assert len(card["git"]["commit"] or "x" * 40) == 40
    assert card["hardware"]["cpu_cores"] >= 1
    assert card["command"][1:4] == ["-m", "core.train", "--config"]
    assert environment_differences(card) == []  # same machine, same versions


def test_folder_hash_changes_with_any_byte(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.bin").write_bytes(b"\x00\x01")
    before = folder_hash(tmp_path)
    assert folder_hash(tmp_path) == before
    (tmp_path / "sub" / "w.bin").write_bytes(b"\x00\x02")
    assert folder_hash(tmp_path) != before


def test_hub_snapshot_revision_is_the_commit_in_its_path(tmp_path):
    snapshot = tmp_path / "models--org--m" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    assert model_revision("org/m", str(snapshot))["revision"] == "a" * 40


def test_reproduced_run_matches(tiny_run):
    new_dir, differences = start_reproduction(tiny_run)
    assert differences == []
    assert jobs.wait_for(new_dir, timeout=300)["state"] == "completed", runs.tail_log(new_dir)
    result = compare_runs(tiny_run, new_dir, differences)
    assert result["eval_loss_delta"] <= LOSS_TOLERANCE
    assert result["predictions_compared"] == 120
    assert result["predictions_differing"] == 0
    assert result["match"] is True
    assert "REPRODUCED" in summary_lines(result)[-1]
    record = json.loads((new_dir / "reproduction.json").read_text())
    assert record["of"] == str(tiny_run)


def test_another_seed_is_not_called_a_reproduction(tiny_run):
    """The comparison can fail on real runs: the same card with another seed does not match."""
    config = runs.read_config(tiny_run)
    other = jobs.start_job(config.replace(training={"seed": 7}), root=tiny_run.parent)
    assert jobs.wait_for(other, timeout=300)["state"] == "completed", runs.tail_log(other)
    result = compare_runs(tiny_run, other)
    assert result["eval_loss_delta"] > LOSS_TOLERANCE
    assert result["match"] is False and "NOT reproduced." in summary_lines(result)


def test_a_different_result_is_not_called_a_match(tiny_run, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    evaluation = runs.read_eval(tiny_run)
    shifted = dict(evaluation, eval_loss=evaluation["eval_loss"] + 10 * LOSS_TOLERANCE)
    (other / runs.EVAL_FILE).write_text(json.dumps(shifted))
    for name in (runs.CONFIG_FILE,):
        (other / name).write_text((tiny_run / name).read_text())
    import shutil

    shutil.copytree(tiny_run / runs.ADAPTER_DIR, other / runs.ADAPTER_DIR)
    result = compare_runs(tiny_run, other, ["torch: 2.0 in the card, 2.1 here"])
    assert result["match"] is False
    assert result["likely_causes"] == ["torch: 2.0 in the card, 2.1 here"]
    assert any("torch: 2.0" in line for line in summary_lines(result))


def test_card_from_another_machine_lists_what_differs(tiny_run):
    card = read_card(tiny_run)
    card["versions"]["torch"] = "1.0.0"
    card["hardware"]["cpu_cores"] = 512
    card["git"]["commit"] = "f" * 40
    lines = environment_differences(card)
    assert any(line.startswith("torch: 1.0.0 in the card") for line in lines)
    assert any("cpu_cores: 512" in line for line in lines)
    assert any(line.startswith("app commit: ffff") for line in lines)


def test_changed_data_is_refused_before_starting(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    card = read_card(tiny_run)
    card["data"]["fingerprint"] = "0" * 16
    (copy / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ReproduceError, match="changed since the run"):
        check_card(copy)
    card["config"]["data"]["path"] = str(tmp_path / "gone.csv")
    (copy / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ReproduceError, match="not on this machine"):
        check_card(copy)
    assert list(copy.iterdir()) == [copy / CARD_FILE]  # nothing was started


def test_cli_without_a_card_says_so(tmp_path, capsys):
    assert reproduce_main([str(tmp_path)]) == 2
    assert "has no readable card.json" in capsys.readouterr().err
    assert card_main([str(tmp_path)]) == 2
    assert "no card.json" in capsys.readouterr().err


def test_adapter_zip_carries_the_card(tiny_run):
    with zipfile.ZipFile(io.BytesIO(adapter_zip(tiny_run))) as archive:
        shipped = json.loads(archive.read("card.json"))
        raw_card = archive.read("card.json").decode()
        readme = archive.read("README.md").decode()
    card = read_card(tiny_run)
    assert shipped["model"]["revision"] == card["model"]["revision"]
    assert shipped["data"]["fingerprint"] == card["data"]["fingerprint"]
    assert shipped["config"]["training"] == card["config"]["training"]
    assert str(tiny_run.parent) not in raw_card  # no server paths leave the server (core.export)
    assert "## Reproducibility" in readme
    assert read_card(tiny_run)["model"]["revision"] in readme


def test_run_records_its_energy_measured_or_labelled_estimated(tiny_run):
    from core.energy import EnergyMeter, read_energy

    record = read_energy(tiny_run)
    assert record["method"] == ("measured" if EnergyMeter().counters else "estimated")
    assert record["tokens"] > 0 and record["joules"] > 0
    assert record["tokens_per_joule"] == pytest.approx(record["tokens"] / record["joules"])


def test_run_says_whether_it_was_tracked_and_why_not(tiny_run):
    from core.tracking import read_tracking

    record = read_tracking(tiny_run)
    try:
        import mlflow  # noqa: F401
    except ImportError:
        assert record["enabled"] is False
        assert record["reason"].startswith("mlflow is not installed")
    else:
        from mlflow.tracking import MlflowClient

        assert record["enabled"] is True, record["reason"]
        run = MlflowClient(tracking_uri=record["uri"]).get_run(record["run_id"])
        assert run.info.status == "FINISHED"
        assert "loss" in run.data.metrics and "final_eval_loss" in run.data.metrics


def test_an_adapter_started_from_is_in_the_card_and_a_changed_one_is_listed(tiny_run, tmp_path):
    import shutil

    from core.card import build_card

    adapter = tmp_path / "earlier-adapter"
    shutil.copytree(tiny_run / runs.ADAPTER_DIR, adapter)
    config = runs.read_config(tiny_run).replace(lora={"init_from": str(adapter)})
    copy = tmp_path / "copy"
    copy.mkdir()
    card = build_card(copy, config, config.model.name_or_path)
    assert card["start_adapter"] == {"path": str(adapter), "revision": folder_hash(adapter)}
    assert "start_adapter" not in read_card(tiny_run)  # a fresh adapter: nothing to record
    (copy / CARD_FILE).write_text(json.dumps(card))
    assert not [line for line in check_card(copy)[1] if "adapter started from" in line]
    (adapter / "labels.json").write_text('{"labels": ["changed"]}')
    (line,) = [line for line in check_card(copy)[1] if "adapter started from" in line]
    assert f"revision {card['start_adapter']['revision']} in the card" in line
