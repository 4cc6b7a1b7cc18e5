"""Independent, plain-tensor definitions of the merges, written apart from compbench's code to test it.

Each function maps the inputs' per-module updates (or factors) to the merged update ``ΔW`` of one module.
"""

from __future__ import annotations

import math

import torch


def delta(factors) -> torch.Tensor:
    return factors.scaling * factors.B @ factors.A


def linear_factors(factors, weights) -> torch.Tensor:
    """(Σ w_i s_i B_i)(Σ w_i A_i): the paper's mean(B) mean(A) carrying each scaling."""
    B = sum(w * f.scaling * f.B for w, f in zip(weights, factors, strict=True))
    A = sum(w * f.A for w, f in zip(weights, factors, strict=True))
    return B @ A


def weighted_sum(updates, weights) -> torch.Tensor:
    return sum(w * u for w, u in zip(weights, updates, strict=True))


def trim(update: torch.Tensor, density: float) -> torch.Tensor:
    keep = int(density * update.numel())
    order = torch.argsort(update.abs().flatten(), descending=True)
    mask = torch.zeros(update.numel())
    mask[order[:keep]] = 1.0
    return update * mask.reshape(update.shape)


def ties(updates, weights, density) -> torch.Tensor:
    trimmed = [trim(u, density) for u in updates]
    elected = torch.where(sum(trimmed) >= 0, 1.0, -1.0)
    total = torch.zeros_like(updates[0])
    count = torch.zeros_like(updates[0])
    for w, t in zip(weights, trimmed, strict=True):
        agrees = (torch.sign(t) == elected).float()
        total += w * t * agrees
        count += agrees
    return total / torch.clamp(count, min=1.0)


def dare(updates, weights, density, seed) -> torch.Tensor:
    torch.manual_seed(seed)
    masks = [torch.bernoulli(torch.full(u.shape, density)) for u in updates]
    return sum(w * m * u / density for w, m, u in zip(weights, masks, updates, strict=True))


def slerp(first: torch.Tensor, second: torch.Tensor, t: float) -> torch.Tensor:
    u, v = first.flatten(), second.flatten()
    omega = math.acos(float(torch.dot(u / u.norm(), v / v.norm())))
    return (math.sin((1 - t) * omega) * first + math.sin(t * omega) * second) / math.sin(omega)


def truncated(update: torch.Tensor, rank: int) -> torch.Tensor:
    U, S, Vh = torch.linalg.svd(update)
    return U[:, :rank] @ torch.diag(S[:rank]) @ Vh[:rank]


def columnwise(updates, coefficients) -> torch.Tensor:
    return sum(torch.diag(m) @ u for m, u in zip(coefficients, updates, strict=True))
