import json

import pytest
import torch

from eznas.spaces import nds
from eznas.spaces.benchmarks import load_nds_json
from stats_cache.layers import find_layers

# the DARTS (v2) genotype as published, and an Amoeba-like 5-node cell with factorized convs
DARTS = {"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ["sep_conv_3x3", 0], ["sep_conv_3x3", 1],
                    ["sep_conv_3x3", 1], ["skip_connect", 0], ["skip_connect", 0], ["dil_conv_3x3", 2]],
         "normal_concat": [2, 3, 4, 5],
         "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1], ["skip_connect", 2], ["max_pool_3x3", 1],
                    ["max_pool_3x3", 0], ["skip_connect", 2], ["skip_connect", 2], ["max_pool_3x3", 1]],
         "reduce_concat": [2, 3, 4, 5]}
AMOEBA_LIKE = {"normal": [["avg_pool_3x3", 0], ["max_pool_3x3", 1], ["sep_conv_3x3", 0], ["sep_conv_5x5", 2],
                          ["sep_conv_3x3", 0], ["avg_pool_3x3", 3], ["sep_conv_3x3", 1], ["skip_connect", 1],
                          ["skip_connect", 0], ["avg_pool_3x3", 1]], "normal_concat": [4, 5, 6],
               "reduce": [["avg_pool_3x3", 0], ["sep_conv_3x3", 1], ["max_pool_3x3", 0], ["sep_conv_7x7", 2],
                          ["sep_conv_7x7", 0], ["avg_pool_3x3", 1], ["max_pool_3x3", 0], ["max_pool_3x3", 1],
                          ["conv_7x1_1x7", 0], ["sep_conv_3x3", 5]], "reduce_concat": [3, 4, 6]}


@pytest.mark.parametrize("geno,width,depth", [(DARTS, 8, 5), (AMOEBA_LIKE, 8, 4)])
def test_nds_networks_build_and_run(geno, width, depth):
    arch = json.dumps({"genotype": geno, "width": width, "depth": depth})
    net = nds.build(arch)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    layers = find_layers(net, torch.randn(1, 3, 32, 32))
    sep = [l for l in layers if l.conv.groups > 1]
    assert sep and all(l.conv.groups == l.conv.in_channels for l in sep)  # depthwise conv kept, pointwise ignored


def test_darts_layer_count():
    net = nds.build({"genotype": DARTS, "width": 8, "depth": 5})
    # normal cells (3 of 5): 2 preprocess + 5 sep_conv x 2 stacks + 1 dil_conv = 13; reduction cells: 2 preprocess
    # (the cell after a reduction has a FactorizedReduce preprocess: cat, not an RCB -> 12)
    n = len(find_layers(net, torch.randn(1, 3, 32, 32)))
    assert n == 13 + 2 + 12 + 2 + 12


def test_nds_json_round_trip(tmp_path):
    recs = [{"net": {"genotype": DARTS, "width": 8, "depth": 5}, "test_ep_top1": [20.0, 6.0]}]
    p = tmp_path / "DARTS.json"
    p.write_text(json.dumps(recs))
    gt = load_nds_json(str(p), "darts")
    assert gt.accuracy[0] == 94.0
    assert gt.build(0)(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    with pytest.raises(ValueError, match="NDS architecture"):
        nds.build({"width": 8})
