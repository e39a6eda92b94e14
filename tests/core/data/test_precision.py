"""The report is precise: ordinary numbers are not personal data, template rows are not copies,
clean public datasets are not "needs fixing", and no first fix throws away most of the data."""

import numpy as np
import pandas as pd
import pytest

from core.data.clean import Step, apply_step
from core.data.dedup import find_duplicates
from core.data.pii import find_pii, mask_pii
from core.data.quality import MAX_FIRST_FIX_SHARE, quality_report

MAPPING = {"task": "classification", "text": "text", "label": "label"}

NOT_PII = [
    "Knicks Hold Off Raptors, 108-102 in overtime",  # score
    "Chelsea won 3-1 at home",  # score
    "the English Civil War, 1642-1649, and after",  # year range
    "between 1973-1990 the economy grew",  # year range
    "ages 10-20 and 2000-2500 metres",  # ranges
    "upgrade to version 2.4.1 today",  # version
    "firmware version 10.2.3.4 is out",  # four-part version
    "Ryanair orders more Boeing 737-800 jets",  # product number
    "part no. 123-4567 and SKU 88-1234-55",  # product numbers
    "it costs $1,234.56 or 1 299,00 EUR",  # prices
    "on 2004-09-23 and 12.05.2004 and 23/09/2004",  # dates
    "the revolution \\( 1738 1789 \\) began",  # year pair
    "ISBN 978-0-306-40615-7 is a book",  # ISBN
    "order 4111 1111 1111 1112 failed",  # card-shaped, fails Luhn
    "logo@2x.png is the retina image",  # a file name, not an e-mail
]
PII = [
    ("call me on +44 20 7946 0958 tonight", "phone"),
    ("call +1 415-555-0134 now", "phone"),
    ("soccer league, call 781-442-0750 for info", "phone"),
    ("phone (415) 555-0134 or 1-800-555-1212", "phone"),
    ("write to jane.doe@example.com", "email"),
    ("card 4111 1111 1111 1111 was charged", "card"),
    ("amex 3782 822463 10005 on file", "card"),
    ("mastercard 5555555555554444 declined", "card"),
    ("login from 192.168.10.4 at noon", "ip"),
]


def test_ordinary_numbers_are_not_personal_data():
    found = find_pii(pd.Series(NOT_PII))
    flagged = {NOT_PII[i]: kind for kind, rows in found.items() for i in rows}
    assert flagged == {}


@pytest.mark.parametrize(("text", "kind"), PII)
def test_real_personal_data_is_found_and_masked(text, kind):
    found = find_pii(pd.Series(["nothing here", text]))
    assert found[kind].tolist() == [1]
    assert sum(len(rows) for rows in found.values()) == 1  # and as that kind only
    masked = mask_pii(pd.Series([text])).iloc[0]
    plain = [w for w in text.split() if not any(c.isdigit() or c == "@" for c in w)]
    assert f"[{kind.upper()}]" in masked and all(w in masked.split() for w in plain)


def test_masking_leaves_scores_and_years_alone():
    text = "Knicks 108-102 in 2004; call +1 415-555-0134"
    assert mask_pii(pd.Series([text])).iloc[0] == "Knicks 108-102 in 2004; call [PHONE]"


def test_template_rows_are_not_near_copies_but_edited_copies_are():
    texts = pd.Series(
        [
            "What is a fear of shadows ?",
            "What is a fear of rejection ?",  # template: another question
            "there is a debit i dont recognize",
            "there is a charge i dont recognize",  # the replaced word is the label
            "Where is Rider College ?",
            "Where is Rider College located ?",  # one word added: the same question
            "What is `` dew point '' ?",
            "What is dew point ?",  # punctuation only
        ]
    )
    found = find_duplicates(texts)
    assert dict(zip(found.near.tolist(), found.near_of.tolist(), strict=True)) == {5: 4, 7: 6}


def read_shared(folder, name):
    """The shared classification files as (text, label) tables, read with pandas directly."""
    if name == "ag_news":
        table = pd.read_csv(
            folder / "ag_news_test.csv", header=None, names=["label", "title", "body"], dtype=str
        )
        return pd.DataFrame({"text": table.title + " " + table.body, "label": table.label})
    if name == "trec":
        lines = (folder / "trec_train_5500.label").read_bytes().decode("latin-1").splitlines()
        pairs = [line.split(" ", 1) for line in lines]
        coarse = [p[0].split(":")[0] for p in pairs]  # TREC-6, as the dataset README advises
        return pd.DataFrame({"text": [p[1] for p in pairs], "label": coarse})
    if name == "subj":
        return pd.read_csv(
            folder / "subj_train.tsv", sep="\t", header=None, names=["text", "label"], quoting=3
        )
    table = pd.read_csv(folder / "banking77_train.csv", dtype=str)
    return table.rename(columns={"category": "label"})


@pytest.mark.parametrize("name", ["ag_news", "trec", "banking77", "subj"])
def test_clean_public_benchmarks_do_not_need_fixing(shared_datasets, name):
    table = read_shared(shared_datasets, name)
    report = quality_report(table, MAPPING, max_length=128)
    assert report.verdict != "needs fixing", [
        (f.key, f.message) for f in report.findings if f.severity == "problem"
    ]
    assert all(f.removes <= MAX_FIRST_FIX_SHARE * len(table) for f in report.findings[:1])


def long_articles(rows=60, words=220, seed=0):
    """News-like rows far over 128 tokens, as in a real news dataset (1,489 of 1,490 rows)."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choice(vocabulary, words + i)) for i in range(rows)]
    return pd.DataFrame({"text": texts, "label": rng.choice(["sport", "tech", "politics"], rows)})


def test_long_classification_texts_get_truncation_advice_not_dropping():
    table = long_articles()
    table.loc[len(table)] = ["call me on +1 415-555-0134", "tech"]
    report = quality_report(table, MAPPING, max_length=128)
    length = report.get("length")
    assert length.count == len(table) - 1 and length.severity == "warning"
    assert length.fix["step"] == "keep_head_tail" and length.removes == 0
    assert "max length of 512" in length.message and "4× the time" in length.message
    assert report.verdict == "usable with warnings"
    first = report.top_fixes[0]
    assert "Remove" not in first or int(first.split("Remove ")[1].split()[0]) <= 0.2 * len(table)
    kept = apply_step(table, MAPPING, Step("keep_head_tail", {"max_tokens": 128}))
    assert len(kept) == len(table)  # nothing removed
    words = kept.text.iloc[0].split()
    original = table.text.iloc[0].split()
    assert len(words) <= 128 and words[:3] == original[:3] and words[-3:] == original[-3:]


def test_a_fix_removing_most_rows_is_never_recommended_first():
    table = long_articles(rows=40)
    table = pd.concat([table, table.iloc[:30]], ignore_index=True)  # 30 of 70 rows are copies
    table.loc[35, "text"] = table.text[35] + " <br/> &amp;"  # a small text fix is available
    report = quality_report(table, {**MAPPING, "task": "text"}, max_length=128)
    duplicates = report.get("duplicates")
    assert duplicates.removes == 30 > MAX_FIRST_FIX_SHARE * len(table)
    assert report.get("length").fix is None  # generation: dropping 100% of rows is not offered
    assert report.top_fixes[0].startswith("Encoding damage and HTML")
    assert "Exact duplicates: Remove 30 rows" in report.top_fixes
    assert report.verdict == "usable with warnings"
    base = long_articles(rows=40)  # the copies alone: nothing else to fix
    alone = quality_report(pd.concat([base, base.iloc[:30]]), MAPPING, max_length=512)
    assert alone.get("duplicates").removes == 30 and alone.top_fixes == []


def test_empty_labels_need_fixing_and_their_fix_removes_only_them():
    table = long_articles(rows=40, words=5)
    table.loc[[3, 7], "label"] = ["", None]
    report = quality_report(table, MAPPING)
    finding = report.get("empty_labels")
    assert finding.rows.tolist() == [3, 7] and finding.severity == "problem"
    assert report.verdict == "needs fixing" and report.top_fixes[0].endswith("Remove 2 rows")
    fixed = apply_step(table, MAPPING, Step(finding.fix["step"], finding.fix["params"]))
    assert len(fixed) == 38 and fixed.label.notna().all()
