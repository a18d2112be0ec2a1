import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from alignment.dataset import ComparisonData
from alignment.generator import load_generator
from alignment.guidance import GuidanceError, parse_guidance, reward_gradient
from alignment.latent_reward import LatentRewardConfig, LatentRewardModel, train_latent_reward
from alignment.sampling import generate_latents, sample_latents

LATENT = (16, 3, 4, 4)


class _ConstantVelocity(torch.nn.Module):
    """Predicts a velocity equal to the first entry of the text embedding, everywhere."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, hidden_states, timestep, encoder_hidden_states, return_dict=False):
        return (torch.ones_like(hidden_states) * encoder_hidden_states[:, :1, :1, None, None],)


def test_guidance_term_is_added_after_cfg_and_sums_to_the_sigma_range():
    x = torch.zeros(1, 1, 1, 2, 2)
    cond, uncond = torch.full((1, 1, 1), 2.0), torch.full((1, 1, 1), 1.0)
    # CFG: v̂ = 1 + 3·(2 − 1) = 4 at every step; the Euler steps sum (σ_next − σ) to 0 − 1 = −1, so −4;
    # the guidance term sums (σ − σ_next)·c to 1·c with a constant gradient c = 0.5.
    out = sample_latents(
        _ConstantVelocity(),
        FlowMatchEulerDiscreteScheduler(shift=7.0),
        x,
        cond,
        num_steps=5,
        negative_embeds=uncond,
        guidance_scale=3.0,
        reward_grad=lambda latents, sigma: torch.full_like(latents, 0.5),
    )
    assert torch.allclose(out, torch.full_like(x, -4.0 + 0.5), atol=1e-6)


@pytest.fixture(scope="module")
def reward_setup(tiny_model_dir):
    gen = load_generator(tiny_model_dir)
    torch.manual_seed(0)
    model = LatentRewardModel.from_generator(gen.transformer, num_blocks=1, head_hidden=8)
    return gen, model


def test_reward_backbone_is_the_generators_first_blocks(reward_setup, tmp_path):
    gen, model = reward_setup
    assert len(model.backbone.blocks) == 1
    ours, theirs = model.backbone.blocks[0].state_dict(), gen.transformer.blocks[0].state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    x, sigma, emb = torch.randn(2, *LATENT), torch.tensor([0.2, 0.9]), gen.encode_prompts(["a", "b"])
    loaded = LatentRewardModel.load(model.save(tmp_path / "lrm"))
    with torch.no_grad():
        assert torch.equal(loaded(x, sigma, emb), model(x, sigma, emb))
    assert model(x, sigma, emb).shape == (2, 3)


def test_zero_weights_equal_unguided_sampling_exactly(reward_setup):
    gen, model = reward_setup
    embeds = gen.encode_prompts(["a red circle"])
    plain = generate_latents(gen, ["a red circle"], [4], 9, 32, 32, num_steps=3, guidance_scale=2.0)
    grad = reward_gradient(model, embeds, parse_guidance("VQ=0,MQ=0,TA=0"), scale=10.0)
    guided = generate_latents(gen, ["a red circle"], [4], 9, 32, 32, num_steps=3, guidance_scale=2.0, reward_grad=grad)
    assert torch.equal(guided, plain)


def test_guidance_raises_the_weighted_reward(reward_setup):
    gen, model = reward_setup
    embeds = gen.encode_prompts(["a red circle"])
    zero = torch.zeros(1)

    def final_vq(scale):
        grad = reward_gradient(model, embeds, {"VQ": 1.0}, scale=scale) if scale else None
        latents = generate_latents(gen, ["a red circle"], [4], 9, 32, 32, num_steps=4, guidance_scale=1.0,
                                   reward_grad=grad)
        with torch.no_grad():
            return model(latents, zero, embeds)[0, 0].item()

    assert final_vq(0.0) < final_vq(2.0) < final_vq(8.0)


def test_guidance_weights_are_checked(reward_setup):
    _, model = reward_setup
    with pytest.raises(GuidanceError, match="no dimension Aesthetics"):
        reward_gradient(model, torch.zeros(1, 16, 32), {"Aesthetics": 1.0})
    with pytest.raises(GuidanceError, match="expected NAME=NUMBER"):
        parse_guidance("VQ:1")


def test_latent_reward_model_learns_a_preference_from_noisy_latents(reward_setup, tmp_path):
    gen, _ = reward_setup
    g = torch.Generator().manual_seed(0)
    n = 64
    latents = torch.randn(2 * n, *LATENT, generator=g)
    brightness = latents.mean(dim=(1, 2, 3, 4))
    labels = torch.sign(brightness[:n] - brightness[n:]).unsqueeze(1)  # VQ: the brighter latent wins
    rows = torch.stack([torch.arange(n), torch.arange(n) + n, torch.zeros(n, dtype=torch.long)], dim=1)
    data = ComparisonData(latents, gen.encode_prompts(["a"]), rows, labels, ("VQ",))
    config = LatentRewardConfig(num_blocks=1, dimensions=("VQ",), head_hidden=16, max_steps=150, learning_rate=3e-3,
                                progress_bar=False)
    model = train_latent_reward(gen.transformer, data, config, tmp_path / "lrm").model
    # held-out pairs at a moderate noise level: the learned reward must rank them mostly right
    offsets = torch.linspace(-0.5, 0.5, 64)[torch.randperm(64, generator=g)]
    test = torch.randn(64, *LATENT, generator=g) + offsets.view(-1, 1, 1, 1, 1)
    sigma = torch.full((64,), 0.3)
    noisy = 0.7 * test + 0.3 * torch.randn(test.shape, generator=g)
    with torch.no_grad():
        r = model(noisy, sigma, gen.encode_prompts(["a"] * 64))[:, 0]
    a, b = r[:32], r[32:]
    truth = test[:32].mean(dim=(1, 2, 3, 4)) > test[32:].mean(dim=(1, 2, 3, 4))
    assert ((a > b) == truth).float().mean() >= 0.8
    assert (tmp_path / "lrm" / "latent_reward.json").is_file()
