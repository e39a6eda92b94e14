"""Results page, "use the model": a file predicted in the background, the merged model, serving."""

from __future__ import annotations

import json
import time

import pytest

from core import runs
from core.predict_job import latest_job, read_progress
from tests.app.conftest import button, go, texts
from tests.conftest import write_reviews
from tests.core.test_merge import make_run, tiny_base


def classifier_run(tmp_path):
    """A finished run of a tiny Llama classifier with a real (random) LoRA and an eval.json."""
    base = tmp_path / "tiny-llama"
    run_dir = make_run(
        tmp_path, str(base), base, "classification", tiny_base(base, "classification")
    )
    evaluation = {"labels": ["negative", "positive"], "confusion": [[8, 2], [3, 7]],
                  "accuracy": 0.75, "macro_f1": 0.75, "chance_accuracy": 0.5, "n_validation": 20,
                  "eval_loss": 0.6}  # fmt: skip
    (run_dir / runs.EVAL_FILE).write_text(json.dumps(evaluation))
    return run_dir


def generative_run(tmp_path, name: str = "tiny-causal"):
    """A finished run of a tiny causal LM with a real (random) LoRA and an eval.json."""
    base = tmp_path / name
    run_dir = make_run(tmp_path, str(base), base, "causal_lm", tiny_base(base, "causal_lm"))
    evaluation = {"task": "causal_lm", "eval_loss": 2.0, "perplexity": 7.4, "n_validation": 5}
    (run_dir / runs.EVAL_FILE).write_text(json.dumps(evaluation))
    return run_dir


def open_results(app, run_dir):
    app.session_state["run_dir"] = str(run_dir)
    return go(app, "pages/results.py")


@pytest.mark.slow
def test_an_uploaded_file_is_predicted_in_the_background_and_offered_for_download(
    app, data_root, tmp_path
):
    run_dir = classifier_run(tmp_path)
    open_results(app, run_dir)
    assert button(app, "Predict every row").disabled
    reviews = write_reviews(tmp_path / "new.csv", rows=40, seed=2).read_bytes()
    app.file_uploader(key="predict-upload").upload("new.csv", reviews, "text/csv").run()
    app.checkbox(key="predict-review").check().run()
    button(app, "Predict every row").click().run()
    assert not app.exception
    job = latest_job(run_dir)
    deadline = time.monotonic() + 120
    while read_progress(job)["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
    open_results(app, run_dir)  # a reload finds the finished job again
    assert "new.csv: 40 rows predicted" in texts(app.success) and "for review" in texts(app.success)
    assert [b.label for b in app.get("download_button")][-2:] == ["Download CSV", "Download JSONL"]


def test_the_merged_model_is_built_and_the_serve_command_shown(app, data_root, tmp_path):
    run_dir = classifier_run(tmp_path)
    open_results(app, run_dir)
    build = [b for b in app.button if b.label.startswith("Build it (needs about")]
    assert build, [b.label for b in app.button]
    build[0].click().run()
    assert not app.exception and (run_dir / "merged" / "model.safetensors").exists()
    assert any("standalone model" in b.label for b in app.get("download_button"))
    assert any("python -m core.serve --run" in c.value for c in app.code)


def test_a_run_with_a_partial_adapter_says_so_with_its_state(app, data_root, tmp_path):
    run_dir = classifier_run(tmp_path)
    (run_dir / runs.ADAPTER_DIR / "adapter_model.safetensors").unlink()
    open_results(app, run_dir)
    assert "incomplete (the weights missing; the run's state is 'completed')" in texts(app.info)


def test_the_playground_shows_the_base_and_the_tuned_answer_side_by_side(app, data_root, tmp_path):
    from core.playground import Decoding, side_by_side

    run_dir = generative_run(tmp_path)
    open_results(app, run_dir)
    assert button(app, "Compare").disabled
    app.text_area(key="playground-prompt").input("great product").run()
    app.number_input(key="playground-tokens").set_value(8).run()
    button(app, "Compare").click().run()
    assert not app.exception and not app.error
    from core.evaluate import load_generator

    expected = side_by_side(load_generator(run_dir), "great product", Decoding(8))
    shown = [t.value for t in app.text]
    assert shown[-2:] == [expected["base"] or "(no text)", expected["tuned"] or "(no text)"]
    assert any("--enable-lora" in c.value for c in app.code)  # the vLLM command for this run
    assert "not installed on this machine" in texts(app.caption)
