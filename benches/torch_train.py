"""PyTorch reference for benches/train.rs: training iterations/s of one recurrent network.

Same shapes and work as census: flip-flop (3 inputs, 3 outputs), BPTT through all steps, MSE,
global-norm clipping, SGD with momentum. vanilla/gru/lstm use torch's fused nn.RNN/GRU/LSTM
(torch's GRU puts the reset after the recurrent matrix; same cost); ugrnn is a Python cell loop.

usage: python3 torch_train.py ARCH UNITS BATCH STEPS SECONDS THREADS  -> prints "it_per_s <x>"
"""
import sys
import time

import torch


class Ugrnn(torch.nn.Module):
    def __init__(self, m, n):
        super().__init__()
        self.n = n
        self.lin = torch.nn.Linear(m + n, 2 * n)

    def forward(self, x):
        t, b, _ = x.shape
        h = x.new_zeros(b, self.n)
        out = []
        for k in range(t):
            a = self.lin(torch.cat([x[k], h], dim=1))
            g = torch.sigmoid(a[:, : self.n])
            c = torch.tanh(a[:, self.n :])
            h = g * h + (1 - g) * c
            out.append(h)
        return torch.stack(out), h


def flipflop(steps, batch, bits=3, p=0.05):
    pulses = (torch.rand(steps, batch, bits) < p).float()
    signs = torch.where(torch.rand(steps, batch, bits) < 0.5, -1.0, 1.0)
    x = pulses * signs
    y = torch.zeros_like(x)
    last = torch.zeros(batch, bits)
    for t in range(steps):
        last = torch.where(x[t] != 0, x[t], last)
        y[t] = last
    return x, y


def main():
    arch, units, batch, steps, seconds, threads = sys.argv[1:7]
    units, batch, steps, seconds, threads = int(units), int(batch), int(steps), float(seconds), int(threads)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rnn = {
        "vanilla": lambda: torch.nn.RNN(3, units, nonlinearity="tanh"),
        "gru": lambda: torch.nn.GRU(3, units),
        "lstm": lambda: torch.nn.LSTM(3, units),
        "ugrnn": lambda: Ugrnn(3, units),
    }[arch]()
    readout = torch.nn.Linear(units, 3)
    params = list(rnn.parameters()) + list(readout.parameters())
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)

    def iteration():
        x, y = flipflop(steps, batch)
        h, _ = rnn(x)
        loss = torch.mean((readout(h) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    for _ in range(3):
        iteration()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        iteration()
        n += 1
    print(f"it_per_s {n / (time.perf_counter() - start):.3f}")


if __name__ == "__main__":
    main()
