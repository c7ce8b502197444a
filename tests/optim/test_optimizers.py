"""Every registered optimizer trains a tiny conv net; defaults, refusals and option errors."""

from __future__ import annotations

import math

import pytest
import torch

from seglab.errors import ConfigError
from seglab.losses import bce_dice
from seglab.optim import OPTIMIZERS, create_optimizer, needs_closure


def _problem():
    """A fixed batch whose mask a 3x3 convolution can learn, and a fresh student net."""
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    teacher = torch.nn.Conv2d(3, 1, 3, padding=1)
    with torch.no_grad():
        target = (teacher(x)[:, 0] > 0).long()
    target[:, 0, 0] = 255  # an ignored pixel, as datasets give them
    torch.manual_seed(0)
    return torch.nn.Conv2d(3, 1, 3, padding=1), x, target


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_lowers_the_loss_without_nan(name):
    net, x, target = _problem()
    opt = create_optimizer(name, net.parameters())
    assert needs_closure(opt) == (name == "lbfgs")

    def closure():
        opt.zero_grad()
        loss = bce_dice(net(x), target)
        loss.backward()
        return loss

    with torch.no_grad():
        first = bce_dice(net(x), target).item()
    for _ in range(10):
        if needs_closure(opt):
            loss = opt.step(closure)
        else:
            loss = closure()
            opt.step()
        assert math.isfinite(loss.item())
    with torch.no_grad():
        last = bce_dice(net(x), target).item()
    assert math.isfinite(last)
    assert last < first
    assert all(torch.isfinite(p).all() for p in net.parameters())


@pytest.mark.parametrize(
    ("name", "lr", "extra"),
    [
        ("sgd", 0.01, {"momentum": 0.9, "nesterov": False, "weight_decay": 0}),
        ("adam", 1e-3, {"weight_decay": 0}),
        ("adamw", 1e-3, {"weight_decay": 0.01}),
        ("adamax", 2e-3, {}),
        ("radam", 1e-3, {}),
        ("nadam", 2e-3, {}),
        ("asgd", 1e-2, {}),
        ("rmsprop", 1e-3, {}),
        ("rprop", 1e-2, {}),
        ("lbfgs", 1.0, {"line_search_fn": "strong_wolfe"}),
    ],
)
def test_recommended_defaults(name, lr, extra):
    opt = create_optimizer(name, torch.nn.Linear(2, 1).parameters())
    assert opt.defaults["lr"] == OPTIMIZERS[name].lr == lr
    for key, value in extra.items():
        assert opt.defaults[key] == value
    assert OPTIMIZERS[name].source


def test_arguments_override_defaults():
    params = list(torch.nn.Linear(2, 1).parameters())
    opt = create_optimizer("sgd", params, lr=0.1, weight_decay=1e-4, nesterov=True, momentum=0.8)
    assert (opt.defaults["lr"], opt.defaults["weight_decay"]) == (0.1, 1e-4)
    assert (opt.defaults["nesterov"], opt.defaults["momentum"]) == (True, 0.8)
    assert create_optimizer("adamw", params, weight_decay=0.0).defaults["weight_decay"] == 0.0
    assert isinstance(create_optimizer("radam", params, lr=0.005), torch.optim.RAdam)  # the seed
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.5}]
    opt = create_optimizer("adam", groups)
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 0.5]


def test_sparseadam_is_refused_with_the_reason():
    with pytest.raises(ConfigError, match=r"sparse gradients.*nn\.Embedding.*'adam' or 'adamw'"):
        create_optimizer("sparseadam", torch.nn.Linear(2, 1).parameters())


def test_unknown_name_and_options_list_valid_ones():
    params = list(torch.nn.Linear(2, 1).parameters())
    with pytest.raises(ConfigError, match=r"did you mean 'adamax'.*valid names: sgd, adam"):
        create_optimizer("adma", params)
    with pytest.raises(ConfigError, match=r"no option 'betas'.*valid options: lr, weight_decay"):
        create_optimizer("sgd", params, betas=(0.9, 0.99))
    with pytest.raises(ConfigError, match="lbfgs has no weight_decay"):
        create_optimizer("lbfgs", params, weight_decay=0.1)
    with pytest.raises(ConfigError, match="lr must be > 0"):
        create_optimizer("adam", params, lr=0)
    with pytest.raises(ConfigError, match=r"optimizer 'sgd'.*momentum"):
        create_optimizer("sgd", params, momentum=-1.0)
