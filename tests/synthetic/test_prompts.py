import pytest

from synthetic.prompts import PromptAttrs, PromptError, parse_prompt, sample_prompts


def test_every_sampled_prompt_parses_back_to_its_attributes():
    prompts = sample_prompts(400, seed=3)
    assert len({p.text for p in prompts}) == 400
    assert all(parse_prompt(p.text) == p for p in prompts)


def test_plural_prompt_text_and_parse():
    attrs = PromptAttrs("blue", "square", 2, "moves left", "noisy", "night", "pans right")
    assert attrs.text == "Two blue squares move left on a noisy background at night, the camera pans right."
    assert parse_prompt(attrs.text.lower().rstrip(".")) == attrs


def test_singular_prompt_text():
    attrs = PromptAttrs("red", "circle", 1, "stays still", "plain", "day")
    assert attrs.text == "A red circle stays still on a plain background in daylight."


@pytest.mark.parametrize("text", [
    "A red circle rotates on a plain background in daylight.",  # invisible rotation
    "A red square grows on a plain background in daylight, the camera pans left.",  # camera over a plain wall
    "Two red square moves left on a plain background in daylight.",  # number disagreement
    "A red square move left on a plain background in daylight.",  # verb disagreement
    "A cat jumps over the moon.",
])
def test_prompts_outside_the_grammar_are_rejected(text):
    with pytest.raises(PromptError):
        parse_prompt(text)


def test_unknown_attribute_names_the_field():
    with pytest.raises(PromptError, match="color"):
        PromptAttrs("teal", "square", 1, "grows", "plain", "day")
