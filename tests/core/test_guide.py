from core.guide import data_ready, data_size, model_ready, train_ready
from core.settings import RunConfig


def test_data_size_counts_training_rows_and_capped_tokens(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text(
        "text,label\n"
        + "".join(f"{'word ' * 10},a\n" for _ in range(80))
        + "".join(f"{'word ' * 500},b\n" for _ in range(20))
    )
    config = RunConfig().replace(data={"path": str(data)}, training={"max_length": 64})
    rows, tokens = data_size(config)
    assert rows == 80  # 100 rows less the 20% held out
    assert tokens == int((80 * 13 + 20 * 64) * 0.8)  # 10 words ≈ 13 tokens; 500 words cut to 64


def test_readiness_says_why_each_step_is_not_done(tmp_path):
    config = RunConfig()
    assert model_ready(config) == (True, "")
    assert "Upload a data file" in data_ready(config)[1]
    gone = config.replace(data={"path": str(tmp_path / "gone.csv")})
    assert "is gone" in data_ready(gone)[1]
    writing = config.replace(model={"task": "causal_lm"})
    assert "is an encoder" in model_ready(writing)[1]
    assert "Start a training run first" in train_ready(None)[1]
