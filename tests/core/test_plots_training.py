from core.plots.training import ema, loss_figure, signals_figure

METRICS = [
    {"step": 1, "loss": 1.0, "learning_rate": 1e-3, "grad_norm": 2.0, "tokens_per_s": 100.0},
    {"step": 2, "loss": 0.5, "learning_rate": 5e-4, "grad_norm": 1.0, "tokens_per_s": 120.0},
    {"step": 2, "eval_loss": 0.7, "eval_accuracy": 0.8},
]


def test_loss_figure_has_training_smoothed_and_validation_curves():
    fig = loss_figure(METRICS, smooth=0.5, log_scale=True).to_dict()
    names = [trace["name"] for trace in fig["data"]]
    assert names == ["training loss", "training loss (smoothed)", "validation loss"]
    assert list(fig["data"][1]["y"]) == [1.0, 0.75]
    assert list(fig["data"][2]["y"]) == [0.7]
    assert fig["layout"]["yaxis"]["type"] == "log"


def test_ema_matches_the_textbook_recursion():
    assert ema([1.0, 0.0, 0.0], 0.5) == [1.0, 0.5, 0.25]


def test_signals_figure_has_one_panel_per_recorded_signal():
    fig = signals_figure(METRICS).to_dict()
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["learning rate", "gradient norm", "tokens / s"]
    assert list(fig["data"][0]["y"]) == [1e-3, 5e-4]
