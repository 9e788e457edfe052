"""The seed's three networks: output shapes and parameter counts from the seed's layer list."""

from __future__ import annotations

import pytest
import torch

from kwspot import models
from kwspot.errors import KwspotError
from kwspot.models.profile import count_params


def conv(cin: int, cout: int, k: int) -> int:  # ConvBn with bias, as in the seed
    return cin * cout * k + cout + 2 * cout


def linear(i: int, o: int) -> int:
    return i * o + o


def simple1d_params(classes: int) -> int:
    ch = [1, 8, 16, 32, 64, 128, 256, 256, 512, 512, 1024]
    n = sum(conv(a, b, 3) + conv(b, b, 3) for a, b in zip(ch[:-1], ch[1:], strict=True))
    return n + linear(1024, 512) + linear(512, 256) + linear(256, classes)


def seresnet3_params(classes: int) -> int:
    def res(c: int) -> int:
        return 2 * conv(c, c, 9) + linear(c, 16) + linear(16, c)  # SE 1x1 convs == linear

    stems = [(1, 16), (16, 32), (32, 64), (64, 128), (128, 256)]
    blocks = [1, 2, 2, 2, 0]
    n = sum(conv(a, b, 9) + k * res(b) for (a, b), k in zip(stems, blocks, strict=True))
    return n + linear(256, 256) + linear(256, classes)


def vggnet1_params(classes: int) -> int:
    n = conv(1, 8, 9) + conv(8, 8, 9) + conv(8, 16, 9) + conv(16, 16, 9)
    n += conv(16, 32, 9) + conv(32, 32, 9)
    return n + linear(32 * 12 * 5, 512) + linear(512, 256) + linear(256, classes)


@pytest.mark.parametrize("name,shape,expected", [
    ("simple1dnet", (1, 16000), simple1d_params),
    ("seresnet3", (1, 40, 101), seresnet3_params),
    ("vggnet1", (1, 40, 101), vggnet1_params),
])
def test_seed_models(name: str, shape: tuple[int, ...], expected) -> None:
    net = models.create(name, num_classes=12).eval()
    assert models.get_spec(name).frontend == {"simple1dnet": "raw", "seresnet3": "mel",
                                               "vggnet1": "mfcc"}[name]
    with torch.no_grad():
        out = net(torch.randn(2, *shape))
    assert out.shape == (2, 12)
    assert count_params(net) == expected(12)


def test_seresnet3_is_the_seeds_size() -> None:
    assert 1.2e6 < count_params(models.create("seresnet3", 12)) < 1.3e6  # "1.3 M"


def test_unknown_model_lists_close_matches() -> None:
    with pytest.raises(KwspotError, match="did you mean seresnet3"):
        models.create("seresnet", 12)
