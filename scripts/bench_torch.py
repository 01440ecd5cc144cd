#!/usr/bin/python3
"""PyTorch baselines for `hypertrain bench`, the same networks and steps on the same machine.

    /usr/bin/python3 scripts/bench_torch.py --model mnist-conv|wrn40-1|wrn40-2|lstm|hyperlstm
                                            [--threads 2] [--iters 10] [--batch B] [--json FILE]

Debian's python3-torch (scripts/deps.sh does not install it; `apt-get install python3-torch`).
Each model is the one hypertrain benchmarks: the MNIST ConvNet of §4.1 (7x7 convs, SAME, bias,
ReLU, 2x2 max pool, fc 784 -> 10; Adam; batch 1000 on random images), a pre-activation WRN-40-k
(batch 128, 32x32x3, Adam), and for the character models nn.LSTM(1000) and a plain HyperLSTM
(batch 32, segments of 100, one-hot vocabulary 50). Reported: the median step time and items/s.
"""
import argparse
import json
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistConvNet(nn.Module):
    def __init__(self, c=16, f=7):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c, f, padding=f // 2)
        self.conv2 = nn.Conv2d(c, c, f, padding=f // 2)
        self.fc = nn.Linear(7 * 7 * c, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn_a, self.bn_b = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv_a = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv_b = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if cin != cout or stride != 1 else None

    def forward(self, x):
        a = F.relu(self.bn_a(x))
        y = self.conv_b(F.relu(self.bn_b(self.conv_a(a))))
        return y + (self.shortcut(a) if self.shortcut is not None else x)


class WideResNet(nn.Module):
    def __init__(self, depth=40, k=1):
        super().__init__()
        n = (depth - 4) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        blocks, width = [], 16
        for stage, out in enumerate([16 * k, 32 * k, 64 * k]):
            for b in range(n):
                blocks.append(Block(width, out, 2 if stage > 0 and b == 0 else 1))
                width = out
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(width)
        self.fc = nn.Linear(width, 10)

    def forward(self, x):
        x = F.relu(self.bn(self.blocks(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


class HyperLSTMCell(nn.Module):
    """Eq. 10-13 written plainly, one step at a time (the usual PyTorch port)."""

    def __init__(self, nx, nh, nhh=128, nz=4):
        super().__init__()
        self.nh, self.nhh = nh, nhh
        self.hyper = nn.LSTMCell(nx + nh, nhh)
        self.wx = nn.Linear(nx, 4 * nh, bias=False)
        self.wh = nn.Linear(nh, 4 * nh)
        self.zx, self.zh, self.zb = nn.Linear(nhh, 4 * nz), nn.Linear(nhh, 4 * nz), nn.Linear(nhh, 4 * nz, bias=False)
        self.ax, self.ah, self.ab = (nn.Parameter(torch.full((4, nz, nh), 0.1 / nz)) for _ in range(3))

    def forward(self, x, state):
        h, c, hh, hc = state
        hh, hc = self.hyper(torch.cat([x, h], 1), (hh, hc))
        b = x.shape[0]
        dx = torch.einsum("bgz,gzh->bgh", self.zx(hh).view(b, 4, -1), self.ax).reshape(b, -1)
        dh = torch.einsum("bgz,gzh->bgh", self.zh(hh).view(b, 4, -1), self.ah).reshape(b, -1)
        bz = torch.einsum("bgz,gzh->bgh", self.zb(hh).view(b, 4, -1), self.ab).reshape(b, -1)
        i, g, f, o = (dx * self.wx(x) + dh * self.wh(h) + bz).chunk(4, 1)
        c = torch.sigmoid(f + 1) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c, hh, hc)


def conv_step(model, batch, shape):
    x = torch.rand(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.Adam(model.parameters(), 1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def char_step(kind, batch, seq=100, vocab=50, hidden=1000):
    ids = torch.randint(0, vocab, (seq, batch))
    targets = torch.randint(0, vocab, (seq * batch,))
    x = F.one_hot(ids, vocab).float()
    out = nn.Linear(hidden, vocab)
    if kind == "lstm":
        rnn = nn.LSTM(vocab, hidden)
        params = list(rnn.parameters()) + list(out.parameters())

        def forward():
            return rnn(x)[0].reshape(seq * batch, hidden)
    else:
        cell = HyperLSTMCell(vocab, hidden)
        params = list(cell.parameters()) + list(out.parameters())

        def forward():
            z = torch.zeros(batch, hidden)
            state = (z, z, torch.zeros(batch, 128), torch.zeros(batch, 128))
            hs = []
            for t in range(seq):
                h, state = cell(x[t], state)
                hs.append(h)
            return torch.cat(hs)
    opt = torch.optim.Adam(params, 1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(out(forward()), targets).backward()
        opt.step()

    return step


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, choices=["mnist-conv", "wrn40-1", "wrn40-2", "lstm", "hyperlstm"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--batch", type=int)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    if a.model == "mnist-conv":
        batch = a.batch or 1000
        step, items = conv_step(MnistConvNet(), batch, (1, 28, 28)), batch
    elif a.model.startswith("wrn"):
        batch = a.batch or 128
        step, items = conv_step(WideResNet(40, int(a.model[-1])), batch, (3, 32, 32)), batch
    else:
        batch = a.batch or 32
        step, items = char_step(a.model, batch), batch * 100
    step()  # warm-up
    times = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    t = statistics.median(times)
    unit = "images" if a.model in ("mnist-conv", "wrn40-1", "wrn40-2") else "tokens"
    r = {"framework": "pytorch " + torch.__version__, "model": a.model, "batch": batch, "threads": a.threads, "iters": a.iters,
         "step_ms": 1e3 * t, unit + "_per_second": items / t, "cpu": platform.processor() or platform.machine()}
    try:  # the same description as hypertrain's machine_info: name, family, model, vector ISA
        with open("/proc/cpuinfo") as f:
            info = {}
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
        flags = set(info.get("flags", "").split())
        isa = "AVX-512" if "avx512f" in flags else "AVX2+FMA" if {"avx2", "fma"} <= flags else "AVX" if "avx" in flags else "SSE"
        r["cpu"] = f'{info["model name"]} (family {info.get("cpu family", "?")} model {info.get("model", "?")}, {isa})'
    except (OSError, KeyError):
        pass
    print(f"pytorch {torch.__version__} {a.model}: batch {batch}, {a.threads} threads, step {1e3 * t:.1f} ms, {items / t:.0f} {unit}/s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
