"""What fine-tuning changed, for generative runs: one prompt to the base model and to the tuned
one, with the same decoding settings.

The base answer comes from the same loaded model with the LoRA switched off (peft's
`disable_adapter()`), so no second copy of the base is loaded; sampling restarts from the same
seed for both answers, so any difference comes from the adapter, not from the dice.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.evaluate import Generator


@dataclass
class Decoding:
    """Decoding settings shared by both answers (temperature 0: greedy, the same every time)."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if not 1 <= self.max_new_tokens <= 2048:
            raise ValueError(f"max_new_tokens should be 1 to 2048, got {self.max_new_tokens}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(
                f"temperature should be ≥ 0 and top_p in (0, 1], got {self.temperature}, "
                f"{self.top_p}"
            )


def encode_prompt(generator: Generator, prompt: str):
    """The prompt as the tuned model saw prompts in training: chat models get their template."""
    tokenizer = generator.tokenizer
    chat = generator.task == "causal_lm" and getattr(tokenizer, "chat_template", None)
    if chat:
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    return tokenizer(prompt, return_tensors="pt", add_special_tokens=not chat)


def answer(generator: Generator, encoded, decoding: Decoding) -> str:
    import torch

    tokenizer = generator.tokenizer
    torch.manual_seed(decoding.seed)
    sampling = {"do_sample": False}
    if decoding.temperature > 0:
        sampling = {"do_sample": True, "temperature": decoding.temperature, "top_p": decoding.top_p}
    with torch.inference_mode():
        output = generator.model.generate(
            **encoded,
            max_new_tokens=decoding.max_new_tokens,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            **sampling,
        )
    new = output[0] if generator.task == "seq2seq" else output[0, encoded["input_ids"].shape[1] :]
    return tokenizer.decode(new, skip_special_tokens=True).strip()


def side_by_side(generator: Generator, prompt: str, decoding: Decoding | None = None) -> dict:
    """{"base": answer without the adapter, "tuned": answer with it}, same prompt and settings.

    Raises:
        ValueError: the run trained the full model (no adapter to switch off), or an empty prompt.
    """
    if not prompt.strip():
        raise ValueError("Type a prompt first.")
    if not hasattr(generator.model, "disable_adapter"):
        raise ValueError(
            "This run trained every weight (full fine-tuning): there is no adapter to switch off, "
            "so the base model is not loaded here."
        )
    decoding = decoding or Decoding()
    encoded = encode_prompt(generator, prompt)
    tuned = answer(generator, encoded, decoding)
    with generator.model.disable_adapter():
        base = answer(generator, encoded, decoding)
    return {"base": base, "tuned": tuned}
