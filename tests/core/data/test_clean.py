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
