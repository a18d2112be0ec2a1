"""The readout layout of the tiny-base pretraining: the reward model's own template, labelled only at its
reward tokens with each dimension's flaw total; the loss weighs it as one layout against the captions; and a
base pretrained with it hands its trained reward tokens to the reward model."""
import json

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, Qwen2VLForConditionalGeneration

from rewards.captions import describe
from rewards.config import ModelConfig
from rewards.network import RewardNetwork
from rewards.pretrain_base import INFO_FILE, PretrainConfig, pretrain_base
from rewards.pretrain_sequences import (
    IGNORE,
    ReadoutHeads,
    caption_loss,
    caption_sequence,
    level_token_ids,
    make_batch,
    number_corpus,
    number_token_ids,
    readout_sequence,
    reward_token_ids,
)
from rewards.template import sequence_ids
from rewards.tokenizer import REWARD_TOKENS, build_tiny_tokenizer
from rewards.video_input import patchify, sample_frames
from synthetic.defects import Defects
from synthetic.prompts import parse_prompt
from tests.rewards.conftest import TINY_PRETRAIN

PROMPT = "A blue circle moves up on a noisy background at night, the camera pans left."
# blur 0.4 → mild (2), noise 0.75 → severe (4); jitter 0.15 → faint (1); colour 0.35 → mild (2).
CAPTION = describe(parse_prompt(PROMPT), Defects(blur=0.4, noise=0.75, jitter=0.15, wrong_color=0.35))


@pytest.fixture(scope="module")
def tokenizer():
    tok = build_tiny_tokenizer([*number_corpus(), *[" none faint mild strong severe"] * 40, PROMPT,
                                " ".join(t for t, _ in CAPTION.pieces(PROMPT))], vocab_size=400)
    reward_token_ids(tok)
    return tok


def test_readout_is_the_reward_template_labelled_with_the_flaw_totals_at_the_reward_tokens(tokenizer):
    assert CAPTION.totals == (6, 1, 2)
    ids, labels, _ = readout_sequence(tokenizer, 3, PROMPT, CAPTION, reward_token_ids(tokenizer),
                                      number_token_ids(tokenizer))
    text = tokenizer.decode(ids)
    assert text == ("<|vision_start|>" + "<|video_pad|>" * 3 + "<|vision_end|> Visual quality:<|VQ_reward|>"
                    " Motion quality:<|MQ_reward|> Prompt: " + PROMPT + " Text alignment:<|TA_reward|>")
    labelled = [(tokenizer.convert_ids_to_tokens(ids[t]), tokenizer.decode([labels[t]]))
                for t in range(len(ids)) if labels[t] != IGNORE]
    assert labelled == [(REWARD_TOKENS["VQ"], " 6"), (REWARD_TOKENS["MQ"], " 1"), (REWARD_TOKENS["TA"], " 2")]
    # The reward network builds the very same ids for this clip: what the base learns is what it will read.
    network_ids, positions = sequence_ids(
        tokenizer, 3, PROMPT, reward_token_ids(tokenizer), ModelConfig())
    assert network_ids == ids and [labels[p] != IGNORE for p in positions] == [True] * 3


def test_caption_labels_are_each_positions_next_described_token(tokenizer):
    ids, labels = caption_sequence(tokenizer, 2, PROMPT, CAPTION)
    predicted = tokenizer.decode([label for label in labels if label != IGNORE])
    targets = "".join(text for text, is_target in CAPTION.pieces(PROMPT) if is_target) + "<|endoftext|>"
    assert predicted == targets
    assert all(label == ids[t + 1] for t, label in enumerate(labels) if label != IGNORE)


def test_every_total_is_one_token_and_a_split_one_is_named():
    assert len(set(number_token_ids(build_tiny_tokenizer(number_corpus(), vocab_size=300)))) == 29
    with pytest.raises(ValueError, match=r"splits the number words \[.*'28'\]"):
        number_token_ids(build_tiny_tokenizer(["a red square"], vocab_size=300))
    with pytest.raises(ValueError, match=r"splits the level words \[.*'severe'\]"):
        level_token_ids(build_tiny_tokenizer(["a red square"], vocab_size=300))


CFG = PretrainConfig(size=56, frames=4, fps=4.0, hidden_size=32, num_layers=1, vision_depth=1, vision_embed_dim=16,
                     patch_init="random")
FRAMES = torch.rand(2, 4, 56, 56, 3, generator=torch.Generator().manual_seed(0)).mul(255).to(torch.uint8).numpy()


def _row_alone(model, batch, row):
    """The full model's forward of one row on its own (an independent route to the batched loss)."""
    return model(input_ids=batch.input_ids[row:row + 1], attention_mask=batch.attention_mask[row:row + 1],
                 pixel_values_videos=torch.from_numpy(patchify(FRAMES[row], CFG.video_config()).pixel_values),
                 video_grid_thw=batch.video_grid_thw[row:row + 1],
                 mm_token_type_ids=batch.mm_token_type_ids[row:row + 1], output_hidden_states=True)


def test_each_layout_is_its_own_mean_in_the_loss(tokenizer):
    from rewards.pretrain_base import build_model

    model = build_model(CFG, tokenizer).eval()
    batch = make_batch(tokenizer, list(FRAMES), [PROMPT, PROMPT], [CAPTION, CAPTION], CFG.video_config(),
                       readout=[False, True])
    with torch.no_grad():
        loss = caption_loss(model, batch)
        per_row = []
        for row in range(2):
            keep = batch.labels[row] != IGNORE
            per_row.append(F.cross_entropy(_row_alone(model, batch, row).logits[0][keep], batch.labels[row][keep]))
    assert (batch.labels[1] != IGNORE).sum() == 3 and (batch.labels[0] != IGNORE).sum() > 30
    assert loss.item() == pytest.approx((per_row[0] + per_row[1]).item(), rel=1e-5)


def test_levels_readout_regresses_each_defect_level_at_its_dimensions_token(tokenizer):
    from rewards.pretrain_base import build_model

    model = build_model(CFG, tokenizer).eval()
    heads = ReadoutHeads(CFG.hidden_size)
    batch = make_batch(tokenizer, list(FRAMES), [PROMPT, PROMPT], [CAPTION, CAPTION], CFG.video_config(),
                       readout=[False, True], readout_target="levels")
    assert (batch.labels[1] != IGNORE).sum() == 0  # no number words: the levels are the readout's target
    # blur mild 2, noise severe 4 | jitter faint 1 | colour mild 2 (VQ, MQ, TA defects in order).
    assert batch.levels[1].tolist() == [2, 4, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]
    with torch.no_grad():
        loss = caption_loss(model, batch, heads)
        keep = batch.labels[0] != IGNORE
        caption = F.cross_entropy(_row_alone(model, batch, 0).logits[0][keep], batch.labels[0][keep])
        hidden = _row_alone(model, batch, 1).hidden_states[-1][0]
        ids = batch.input_ids[1].tolist()
        at = [ids.index(t) for t in reward_token_ids(tokenizer)]  # VQ, MQ, TA token positions
        predicted = torch.cat([heads.heads[d](hidden[at[d]]) for d in range(3)])
    squared = ((predicted - batch.levels[1]) ** 2).mean()
    assert loss.item() == pytest.approx((caption + squared).item(), rel=1e-5)


@pytest.mark.parametrize(("target", "checklist"), [("total", False), ("levels", True)])
def test_a_base_pretrained_with_the_readout_hands_its_reward_tokens_to_the_reward_model(tmp_path, target, checklist):
    from rewards.learning import reward_recipe
    from rewards.pretrain_sequences import CHECKLIST

    cfg = PretrainConfig(**{**TINY_PRETRAIN.__dict__, "readout_share": 0.5, "readout_target": target,
                            "readout_checklist": checklist, "vocab_size": 800})  # every level word one token
    result = pretrain_base(tmp_path / "base", cfg, clip_dir=tmp_path / "clips", max_steps=3)
    info = json.loads((result.directory / INFO_FILE).read_text())
    held = info["result"]["held_out"]
    assert set(held["readout_correlation"]) == {"VQ", "MQ", "TA"}
    # The leak-free per-defect figures exist exactly when the readout lists the checklist words.
    assert ("checklist_level_correlation" in held) == checklist
    if checklist:
        from synthetic.defects import DEFECT_NAMES

        assert list(held["checklist_level_correlation"]) == list(DEFECT_NAMES)
    assert cfg.key() != TINY_PRETRAIN.key()  # a different recipe, cached apart
    assert not any("readout" in name for name in safe_open_keys(result.directory))  # pretraining-only heads
    saved_tok = AutoTokenizer.from_pretrained(result.directory)
    saved = Qwen2VLForConditionalGeneration.from_pretrained(result.directory).model.get_input_embeddings().weight
    reward_ids = [saved_tok.convert_tokens_to_ids(t) for t in REWARD_TOKENS.values()]
    # The learning recipe takes the template the readout trained: with or without the checklist words.
    model_cfg = reward_recipe(result.directory).model
    assert model_cfg.checklist == (CHECKLIST if checklist else ())
    network = RewardNetwork.from_base(result.directory, model_cfg)
    # No rows added, none re-initialised: the reward tokens are the ones the base learnt.
    assert network.reward_token_ids == reward_ids
    table = network.backbone.get_input_embeddings().weight
    assert table.shape == saved.shape and torch.equal(table[reward_ids], saved[reward_ids])
    clip = sample_frames(tmp_path / "clips" / "00000.mp4", cfg.video_config())
    with torch.no_grad():
        rewards = network(network.encode([patchify(clip.frames, cfg.video_config())], [PROMPT]))
    assert rewards.shape == (1, 3) and torch.isfinite(rewards).all()


def safe_open_keys(directory):
    from safetensors import safe_open

    with safe_open(directory / "model.safetensors", "pt") as fh:
        return list(fh.keys())


def test_bad_readout_settings_are_refused():
    from rewards.config import ConfigError

    with pytest.raises(ConfigError, match="readout_share"):
        PretrainConfig(readout_share=1.5)
    with pytest.raises(ConfigError, match="readout_target"):
        PretrainConfig(readout_share=0.5, readout_target="utility")


def test_checklist_template_lists_each_dimensions_words_before_its_token(tokenizer):
    from rewards.pretrain_sequences import CHECKLIST, readout_layout
    from rewards.template import sequence_layout

    cfg = readout_layout(checklist=True)
    layout = sequence_layout(tokenizer, 2, PROMPT, reward_token_ids(tokenizer), cfg)
    assert tokenizer.decode(layout.ids) == (
        "<|vision_start|><|video_pad|><|video_pad|><|vision_end|>"
        " Visual quality: blur noise blocks contrast pixels<|VQ_reward|>"
        " Motion quality: jitter stutter jumps flicker frozen<|MQ_reward|>"
        " Prompt: " + PROMPT + " Text alignment: colour shape direction count missing background camera<|TA_reward|>")
    for words, positions in zip(CHECKLIST, layout.word_positions, strict=True):
        # Each recorded position is the last token of its word.
        assert all(tokenizer.decode(layout.ids[:p + 1]).endswith(f" {w}") for p, w in zip(positions, words, strict=True))
        assert all(tokenizer.decode(layout.ids[:p + 2]).endswith(f" {w}") is False for p, w in zip(positions, words, strict=True))
    # Labelled like a caption would continue each word: blur mild, noise severe, … jitter faint, colour mild.
    ids, labels, _ = readout_sequence(tokenizer, 2, PROMPT, CAPTION, reward_token_ids(tokenizer), None, cfg)
    words = [(word, tokenizer.decode([labels[p]]).strip())
             for dim, names in zip(layout.word_positions, CHECKLIST, strict=True) for p, word in zip(dim, names, strict=True)]
    assert words[:2] == [("blur", "mild"), ("noise", "severe")] and words[5] == ("jitter", "faint")
    assert words[10] == ("colour", "mild") and sum(lv != "none" for _, lv in words) == 4
    assert all(labels[p] == IGNORE for p in layout.reward_positions)  # "levels": the tokens are regressed


def test_checklist_config_is_checked_and_survives_a_json_round_trip():
    from rewards.config import ConfigError, RewardConfig

    with pytest.raises(ConfigError, match="checklist"):
        ModelConfig(checklist=(("blur",), ("jitter",)))
    with pytest.raises(ConfigError, match="checklist"):
        ModelConfig(token_mode="shared", vq_mq_see_prompt=True, checklist=(("a",), ("b",), ("c",)))
    with pytest.raises(ConfigError, match="checklist words"):
        ModelConfig(checklist=(("blur",), (" jitter",), ("colour",)))
    cfg = RewardConfig(model=ModelConfig(checklist=(("blur", "noise"), ("jitter",), ("colour",))))
    assert RewardConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
