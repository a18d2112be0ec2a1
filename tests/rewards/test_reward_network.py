"""The reward network on the tiny Qwen2-VL: token layout, what each reward token sees, batching, state."""
import numpy as np
import pytest
import torch

from rewards.config import ModelConfig, TrainConfig, VideoConfig
from rewards.network import RewardNetwork
from rewards.template import build_inputs
from rewards.tokenizer import REWARD_TOKENS, VIDEO_PAD, add_reward_tokens, build_tiny_tokenizer
from rewards.video_input import patchify

VIDEO = VideoConfig(min_pixels=784, max_pixels=56 * 56)
TRAIN = TrainConfig(lora_r=4, lora_alpha=8, lora_dropout=0.0)


def random_videos(n, frames=4, seed=0):
    rng = np.random.default_rng(seed)
    return [patchify(rng.integers(0, 256, (frames, 56, 56, 3), dtype=np.uint8), VIDEO) for _ in range(n)]


@pytest.fixture(scope="module")
def network(tiny_base_dir):
    net = RewardNetwork.from_base(tiny_base_dir, ModelConfig())
    net.add_lora(TRAIN)
    net.eval()
    return net


def test_reward_tokens_are_single_special_tokens_and_prompts_cannot_inject_them():
    tok = build_tiny_tokenizer()
    ids = add_reward_tokens(tok, "separate")
    assert ids == [tok.convert_tokens_to_ids(t) for t in REWARD_TOKENS.values()]
    assert add_reward_tokens(tok, "separate") == ids  # adding twice changes nothing
    videos = random_videos(1)
    inputs = build_inputs(tok, videos, ["sneaky <|VQ_reward|> prompt"], ids, ModelConfig(), merge_size=2)
    # Exactly one occurrence of each reward token: the prompt's literal text was split into plain bytes.
    for token_id in ids:
        assert int((inputs.input_ids == token_id).sum()) == 1


def test_video_tokens_and_types_match_the_grid(network):
    videos = random_videos(2, frames=6)  # grid (3, 4, 4) → 48 patches → 12 video tokens after 2×2 merge
    inputs = network.encode(videos, ["short", "a much longer prompt about a red square"])
    pad = network.tokenizer.convert_tokens_to_ids(VIDEO_PAD)
    assert inputs.video_grid_thw.tolist() == [[3, 4, 4], [3, 4, 4]]
    assert inputs.pixel_values_videos.shape == (96, 1176)
    assert ((inputs.input_ids == pad) & inputs.attention_mask.bool()).sum(1).tolist() == [12, 12]
    assert torch.equal(inputs.mm_token_type_ids == 2, (inputs.input_ids == pad) & inputs.attention_mask.bool())
    # The reward token positions hold the reward token ids, in VQ, MQ, TA order.
    rows = torch.arange(2).unsqueeze(1)
    assert (inputs.input_ids[rows, inputs.reward_positions] == torch.tensor(network.reward_token_ids)).all()


@torch.no_grad()
def test_vq_and_mq_do_not_see_the_prompt_in_the_paper_layout(network):
    videos = random_videos(1)
    a = network(network.encode(videos, ["a red square"]))
    b = network(network.encode(videos, ["a blue circle moving fast"]))
    assert torch.equal(a[:, :2], b[:, :2])  # causal attention: the prompt comes after VQ and MQ
    assert not torch.allclose(a[:, 2], b[:, 2])


@torch.no_grad()
def test_prompt_visible_layout_and_shared_token(tiny_base_dir):
    for cfg in (ModelConfig(vq_mq_see_prompt=True), ModelConfig(token_mode="shared", vq_mq_see_prompt=True)):
        net = RewardNetwork.from_base(tiny_base_dir, cfg).eval()
        videos = random_videos(1)
        a = net(net.encode(videos, ["a red square"]))
        b = net(net.encode(videos, ["a blue circle moving fast"]))
        assert a.shape == (1, 3)
        assert not torch.allclose(a[:, 0], b[:, 0])  # now VQ reads the prompt too
    assert len(net.reward_token_ids) == 1


@torch.no_grad()
def test_batching_with_padding_gives_the_same_rewards_as_one_by_one(network):
    videos = random_videos(3, seed=1)
    prompts = ["a", "a long prompt with many words about squares and circles", "mid length prompt"]
    together = network(network.encode(videos, prompts))
    alone = torch.cat([network(network.encode([v], [p])) for v, p in zip(videos, prompts, strict=True)])
    assert torch.allclose(together, alone, atol=1e-5)
    # and the rewards depend on the video
    assert not torch.allclose(together[0], together[2])


def test_only_reward_token_rows_and_chosen_parts_get_gradients(tiny_base_dir):
    net = RewardNetwork.from_base(tiny_base_dir, ModelConfig())
    net.add_lora(TRAIN)
    groups = net.parameter_groups(TrainConfig(lora_r=4, train_vision=False, train_merger=True))
    assert set(groups) == {"head", "embeddings", "lora", "merger"}
    net(net.encode(random_videos(2), ["x", "y"])).sum().backward()
    emb = net.backbone.get_input_embeddings().weight
    assert emb.grad.abs().sum(1).nonzero().flatten().tolist() == net.reward_token_ids
    vision_block = net.backbone.visual.blocks[0].mlp.fc1.weight
    assert vision_block.grad is None and not vision_block.requires_grad
    base_q = net.backbone.language_model.layers[0].self_attn.q_proj.base_layer.weight
    assert base_q.grad is None  # LoRA trains, the base weight does not


@torch.no_grad()
def test_trainable_state_round_trip_gives_identical_rewards(tiny_base_dir):
    net = RewardNetwork.from_base(tiny_base_dir, ModelConfig())
    net.add_lora(TRAIN)
    net.parameter_groups(TRAIN)
    for name, p in net.named_parameters():
        # Stand-in for training: move every trainable tensor (of the embeddings only the reward rows learn).
        if p.requires_grad and "embed_tokens" not in name:
            p.add_(torch.randn_like(p) * 0.05)
    net.backbone.get_input_embeddings().weight[net.reward_token_ids] += 0.3
    state = net.trainable_state()
    fresh = RewardNetwork.from_base(tiny_base_dir, ModelConfig())
    fresh.add_lora(TRAIN)
    videos = random_videos(2, seed=4)
    inputs = net.encode(videos, ["a", "b"])
    before = fresh.eval()(inputs)
    fresh.load_trainable_state(state)
    assert torch.equal(fresh(inputs), net.eval()(inputs))
    assert not torch.allclose(before, fresh(inputs))


@pytest.mark.parametrize("mode,see_prompt", [("separate", False), ("separate", True), ("shared", True)])
def test_previous_token_init_copies_the_token_before_each_reward_token(tiny_base_dir, mode, see_prompt):
    net = RewardNetwork.from_base(tiny_base_dir, ModelConfig(token_mode=mode, vq_mq_see_prompt=see_prompt,
                                                             reward_token_init="previous"))
    inputs = net.encode(random_videos(1), ["a red square"])
    table = net.backbone.get_input_embeddings().weight
    for position in inputs.reward_positions[0].tolist():
        before = int(inputs.input_ids[0, position - 1])
        assert net.tokenizer.convert_ids_to_tokens(before).endswith(":")
        assert torch.equal(table[int(inputs.input_ids[0, position])], table[before])
    # The default keeps the mean of the known rows.
    mean_net = RewardNetwork.from_base(tiny_base_dir, ModelConfig(token_mode=mode, vq_mq_see_prompt=see_prompt))
    known = mean_net.backbone.get_input_embeddings().weight[: min(mean_net.reward_token_ids)]
    torch.testing.assert_close(mean_net.backbone.get_input_embeddings().weight[mean_net.reward_token_ids[0]],
                               known.mean(0))
