"""The sampler's ODE solvers (euler, heun, midpoint) against closed-form solutions of linear ODEs."""
import math

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from alignment.evaluate import SampleSettings
from alignment.flow_matching import SOLVERS, ode_step
from alignment.generator import load_generator
from alignment.sampling import generate_latents, sample_latents


class _LinearVelocity(torch.nn.Module):
    """v(x, σ) = a·x + b + c·σ, with σ = timestep / 1000 (what the sampler passes for σ)."""

    def __init__(self, a: float = 0.0, b: float = 0.0, c: float = 0.0):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))
        self.a, self.b, self.c = a, b, c
        self.calls = 0

    def forward(self, hidden_states, timestep, encoder_hidden_states, return_dict=False):
        self.calls += 1
        sigma = (timestep.float() / 1000.0).view(-1, *([1] * (hidden_states.ndim - 1)))
        return (self.a * hidden_states + self.b + self.c * sigma,)


def _run(model, solver, steps, shift=3.0, x=None):
    x = torch.full((1, 1, 1, 1, 2), 1.0) if x is None else x
    return sample_latents(model, FlowMatchEulerDiscreteScheduler(shift=shift), x, torch.zeros(1, 1, 1), steps,
                          solver=solver)


def test_one_step_of_a_drift_linear_in_sigma():
    # dx/dσ = 2 − 3σ from σ = 0.8 to 0.3: Δx = 2·(0.3 − 0.8) − 1.5·(0.3² − 0.8²) = −1 + 0.825 = −0.175
    def drift(x, sigma):
        return torch.full_like(x, 2.0 - 3.0 * sigma)

    x = torch.zeros(3)
    for solver in ("heun", "midpoint"):
        assert torch.allclose(ode_step(drift, x, 0.8, 0.3, solver), torch.full((3,), -0.175), atol=1e-7)
    # Euler takes the drift at the start, 2 − 2.4 = −0.4, for the whole step: Δx = −0.5·(−0.4) = +0.2
    assert torch.allclose(ode_step(drift, x, 0.8, 0.3, "euler"), torch.full((3,), 0.2), atol=1e-7)


def test_heun_last_step_to_zero_is_euler_and_unknown_solver_is_refused():
    calls = []

    def drift(x, sigma):
        calls.append(sigma)
        return torch.ones_like(x)

    ode_step(drift, torch.zeros(1), 0.1, 0.0, "heun")
    assert calls == [0.1]
    with pytest.raises(ValueError, match="unknown ODE solver"):
        ode_step(drift, torch.zeros(1), 0.1, 0.0, "rk4")
    with pytest.raises(ValueError, match="unknown ODE solver"):
        SampleSettings(8, 40, 40, solver="rk4")


def test_midpoint_integrates_a_sigma_linear_velocity_exactly_over_the_shifted_table():
    # v = 0.7 − 1.3σ, integrated from σ = 1 to 0: x(0) = x(1) − 0.7 + 1.3/2 = x(1) − 0.05, whatever the σ table;
    # this also checks the timestep fed to the network at the midpoints (1000·σ_mid)
    model = _LinearVelocity(b=0.7, c=-1.3)
    out = _run(model, "midpoint", 7)
    assert torch.allclose(out, torch.full_like(out, 1.0 - 0.05), atol=1e-6)
    assert model.calls == 14
    # Euler on the same table is off by a first-order amount
    assert abs(float(_run(_LinearVelocity(b=0.7, c=-1.3), "euler", 7)[0, 0, 0, 0, 0]) - 0.95) > 1e-2


def test_heun_integrates_a_sigma_linear_velocity_exactly_up_to_its_euler_last_step():
    # the trapezoid is exact down to the table's last non-zero σ_N, then one Euler step: Δx = −σ_N·(b + c·σ_N)
    b, c, n = 0.7, -1.3, 5
    model = _LinearVelocity(b=b, c=c)
    out = _run(model, "heun", n)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    scheduler.set_timesteps(n)
    sigma_n = float(scheduler.sigmas[-2])
    exact_to_sigma_n = -(b * (1 - sigma_n) + c * (1 - sigma_n**2) / 2)
    expected = 1.0 + exact_to_sigma_n - sigma_n * (b + c * sigma_n)
    assert torch.allclose(out, torch.full_like(out, expected), atol=1e-6)
    assert model.calls == 2 * n - 1


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_second_order_solvers_converge_at_second_order_on_dx_dsigma_equal_a_x(shift):
    # dx/dσ = a·x from σ = 1 to 0: x(0) = x(1)·e^(−a)
    a = 1.5
    exact = math.exp(-a)

    def error(solver, steps):
        return abs(float(_run(_LinearVelocity(a=a), solver, steps, shift=shift)[0, 0, 0, 0, 0]) - exact)

    # observed order log2(error(N) / error(2N)): 1 for Euler, 2 for the others (a little more here, because
    # diffusers' table also moves its last non-zero σ with N)
    for solver in SOLVERS:
        order = math.log2(error(solver, 16) / error(solver, 32))
        if solver == "euler":
            assert 0.8 < order < 1.3
        else:
            assert 1.8 < order < 2.6
            assert error(solver, 16) < 0.1 * error("euler", 16)


def test_reward_gradient_enters_the_drift_of_every_solver():
    # constant velocity 1 and constant λ∇R = 0.5: the drift is 1 − 0.5 whatever the solver, x(0) = x(1) − 0.5
    for solver in SOLVERS:
        out = sample_latents(_LinearVelocity(b=1.0), FlowMatchEulerDiscreteScheduler(shift=3.0),
                             torch.zeros(1, 1, 1, 1, 2), torch.zeros(1, 1, 1), 4, solver=solver,
                             reward_grad=lambda latents, sigma: torch.full_like(latents, 0.5))
        assert torch.allclose(out, torch.full_like(out, -0.5), atol=1e-6)


def test_shift_override_and_solver_through_generate_latents(tiny_model_dir):
    gen = load_generator(tiny_model_dir)
    own = gen.sampling_scheduler().config.shift
    kwargs = dict(num_steps=3, guidance_scale=2.0)
    plain = generate_latents(gen, ["a red circle"], [3], 9, 32, 32, **kwargs)
    assert torch.equal(generate_latents(gen, ["a red circle"], [3], 9, 32, 32, shift=own, **kwargs), plain)
    assert not torch.allclose(generate_latents(gen, ["a red circle"], [3], 9, 32, 32, shift=own + 2, **kwargs), plain)
    heun = generate_latents(gen, ["a red circle"], [3], 9, 32, 32, solver="heun", **kwargs)
    assert heun.shape == plain.shape and not torch.allclose(heun, plain)
