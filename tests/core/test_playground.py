"""core.playground: the base answer is the plain base model's, the tuned one the merged model's."""

from __future__ import annotations

import pytest

from core.playground import Decoding, answer, encode_prompt, side_by_side
from tests.core.test_merge import make_run, tiny_base

PROMPT = "great product really"


@pytest.fixture(scope="module")
def causal_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("playground")
    base = root / "base"
    return make_run(root, str(base), base, "causal_lm", tiny_base(base, "causal_lm")), base


def plain_answer(folder, generator, decoding) -> str:
    """The same decoding on a model loaded with plain transformers (no peft)."""
    from transformers import AutoModelForCausalLM

    from core.evaluate import Generator

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    plain = Generator(model, generator.tokenizer, "causal_lm")
    return answer(plain, encode_prompt(plain, PROMPT), decoding)


@pytest.mark.parametrize("decoding", [Decoding(max_new_tokens=8),
                                      Decoding(max_new_tokens=8, temperature=0.9, seed=3)])  # fmt: skip
def test_both_answers_match_the_models_they_stand_for(causal_run, decoding):
    from core.evaluate import load_generator
    from core.merge import export_merged

    run_dir, base = causal_run
    generator = load_generator(run_dir)
    both = side_by_side(generator, PROMPT, decoding)
    assert both["base"] == plain_answer(base, generator, decoding)
    merged = run_dir / "merged"
    if not merged.exists():
        export_merged(run_dir, available_gb=64)
    assert both["tuned"] == plain_answer(merged, generator, decoding)
    assert both["base"] != both["tuned"]  # the random adapter changes the answer
    assert side_by_side(generator, PROMPT, decoding) == both  # same seed, same answers


def test_bad_settings_and_an_empty_prompt_are_refused(causal_run):
    with pytest.raises(ValueError, match="max_new_tokens should be 1 to 2048, got 0"):
        Decoding(max_new_tokens=0)
    with pytest.raises(ValueError, match="top_p in"):
        Decoding(top_p=0)
    with pytest.raises(ValueError, match="Type a prompt"):
        side_by_side(object(), "  ")
