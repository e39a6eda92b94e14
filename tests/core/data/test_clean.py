def test_label_spellings_are_found_and_normalised_to_the_commonest_form():
    import pandas as pd

    from core.data.clean import Step, apply_step
    from core.data.quality import quality_report

    table = pd.DataFrame(
        {
            "text": [f"review number {i} says something" for i in range(12)],
            "label": ["positive"] * 5
            + [" Positive", "POSITIVE"]
            + ["negative"] * 4
            + ["Negative "],
        }
    )
    mapping = {"task": "classification", "text": "text", "label": "label"}
    finding = quality_report(table, mapping).get("label_spellings")
    assert finding.severity == "problem" and finding.count == 3
    assert finding.fix == {"step": "normalize_labels", "params": {}}
    fixed = apply_step(table, mapping, Step("normalize_labels", {}))
    assert fixed["label"].value_counts().to_dict() == {"positive": 7, "negative": 5}
    assert quality_report(fixed, mapping).get("label_spellings").severity == "ok"


def test_the_data_page_split_is_the_trainers_split(tmp_path):
    from core.data.load import load_table
    from core.data.split import classification_split
    from core.settings import RunConfig
    from core.train.classification import prepare_frames

    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"row {i} text,{'abc'[i % 3]}\n" for i in range(60)))
    config = RunConfig().replace(data={"path": str(data), "validation_fraction": 0.25})
    train, val = classification_split(load_table(data), config.data)
    trainer_train, trainer_val, labels = prepare_frames(config)
    assert val.equals(trainer_val) and train.equals(trainer_train)
    assert len(val) == 15 and labels == ["a", "b", "c"]
