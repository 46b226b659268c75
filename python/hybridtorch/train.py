"""Training on `hybrid data` token shards with DistributedDataParallel, the C# trainer's recipe.

The batches are the C# sampler's: the train shard cut into windows of seq_len + 1 tokens, shuffled per epoch by a
xoshiro256** generator seeded from (seed, epoch). One step takes world × batch_size windows in that order; process r
trains on rows r·batch_size … (r+1)·batch_size − 1, and DDP averages the gradients, so N processes with batch_size B
take the same steps as one process (or `hybrid train`) with batch size N·B. AdamW with weight decay on matrices and
embeddings only (not A_log), betas (0.9, 0.95), ε 1e-8, global gradient-norm clipping, linear warmup then cosine / WSD /
constant, as `hybrid train`.
"""

import json
import math
import os
import struct
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.distributed as dist

from .ffn import aux_loss
from .model import load_model, save_model

MASK = (1 << 64) - 1


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class DeterministicRandom:
    """xoshiro256** seeded through SplitMix64 from (seed, stream): the generator of HybridSharp's batch sampler."""

    def __init__(self, seed, stream=0):
        x = _mix(seed & MASK) ^ _mix((stream + 0xD1B54A32D192ED03) & MASK)
        s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK
            s.append(_mix(x))
        self.s = s

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next_u64(self):
        s0, s1, s2, s3 = self.s
        result = (self._rotl((s1 * 5) & MASK, 7) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = self._rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def next_below(self, bound):
        threshold = ((1 << 64) - bound) % bound
        while True:
            r = self.next_u64()
            if r >= threshold:
                return r % bound

    def shuffle(self, values):
        for i in range(len(values) - 1, 0, -1):
            j = self.next_below(i + 1)
            values[i], values[j] = values[j], values[i]


def read_shard(path):
    """A token shard: 32-byte header (magic HSTOK1, version 1, token width, count, vocabulary size) + tokens."""
    with open(path, "rb") as f:
        header = f.read(32)
    if len(header) < 32 or header[:8] != b"HSTOK1\0\0":
        raise ValueError(f"{path}: not a HybridSharp token shard")
    version, width, count, _vocab = struct.unpack("<IIqi", header[8:28])
    if version != 1 or width not in (2, 4):
        raise ValueError(f"{path}: unsupported shard (version {version}, width {width})")
    dtype = np.uint16 if width == 2 else np.uint32
    tokens = np.memmap(path, dtype=dtype, mode="r", offset=32, shape=(count,))
    return tokens


class BatchSampler:
    """HybridSharp's PackedBatchSampler: windows in a per-epoch shuffled order, continued across epochs."""

    def __init__(self, tokens, seq_len, seed):
        self.tokens, self.seq_len, self.seed = tokens, seq_len, seed
        self.blocks = (len(tokens) - 1) // seq_len if len(tokens) > seq_len else 0
        if self.blocks == 0:
            raise ValueError(f"the train shard has {len(tokens)} tokens, too few for one window of {seq_len + 1}")
        self.epoch, self.index, self._order, self._order_epoch = 0, 0, None, -1

    def _order_for(self, epoch):
        if self._order_epoch != epoch:
            order = list(range(self.blocks))
            DeterministicRandom(self.seed, epoch).shuffle(order)
            self._order, self._order_epoch = order, epoch
        return self._order

    def next_rows(self, rows):
        xs, ys = [], []
        for _ in range(rows):
            if self.index >= self.blocks:
                self.epoch += 1
                self.index = 0
            start = self._order_for(self.epoch)[self.index] * self.seq_len
            self.index += 1
            window = np.asarray(self.tokens[start:start + self.seq_len + 1], dtype=np.int64)
            xs.append(window[:-1])
            ys.append(window[1:])
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def learning_rate(step, o):
    """Linear warmup, then cosine to min_lr, WSD (decay over the last 20 %) or constant — `hybrid train`'s schedule."""
    if o.warmup > 0 and step < o.warmup:
        return o.lr * (step + 1) / o.warmup
    total = max(o.steps, 1)
    if o.schedule == "constant":
        return o.lr
    if o.schedule == "wsd":
        decay = max(1, round(total * 0.2))
        start = total - decay
        if step < start:
            return o.lr
        return o.lr + (o.min_lr - o.lr) * min(1.0, (step - start + 1) / decay)
    span = max(1, total - o.warmup - 1)
    progress = min(max((step - o.warmup) / span, 0.0), 1.0)
    return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1 + math.cos(math.pi * progress))


@dataclass
class TrainOptions:
    steps: int
    batch_size: int = 16
    seq_len: int = 256
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 50
    schedule: str = "cosine"
    weight_decay: float = 0.1
    clip: float = 1.0
    seed: int = 1234
    grad_accum: int = 1
    log_every: int = 10
    fsdp: bool = False
    losses_path: Optional[str] = None


def _decays(name, p):
    return p.dim() >= 2 and not name.endswith("A_log")


def train(model_dir, data_dir, out_dir, o: TrainOptions):
    if o.steps <= 0 or o.batch_size <= 0 or o.seq_len < 2 or o.grad_accum <= 0:
        raise ValueError("steps, batch size and grad accumulation must be positive and seq len ≥ 2")
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
    try:
        shard = os.path.join(data_dir, "train.bin")
        if not os.path.isfile(shard):
            raise FileNotFoundError(f"{data_dir}: no train.bin (make one with `hybrid data`)")
        sampler = BatchSampler(read_shard(shard), o.seq_len, o.seed)
        model = load_model(model_dir).to(device)
        if model.config.vocab_size < int(np.max(sampler.tokens[: min(len(sampler.tokens), 1 << 20)])) + 1:
            raise ValueError("the data holds token ids outside the model's vocabulary")
        named = list(model.named_parameters())
        groups = [
            {"params": [p for n, p in named if _decays(n, p)], "weight_decay": o.weight_decay},
            {"params": [p for n, p in named if not _decays(n, p)], "weight_decay": 0.0},
        ]
        aux_coef = model.config.moe.router_aux_loss_coef if model.config.moe is not None else 0.0
        net = model
        if distributed:
            if o.fsdp:
                try:
                    from torch.distributed.fsdp import FullyShardedDataParallel
                except Exception as e:   # Debian's torch 1.13 on Python 3.11 cannot import it
                    raise ValueError(f"--fsdp: this torch cannot import FSDP ({type(e).__name__}: {e})") from None
                net = FullyShardedDataParallel(model)
                groups = [{"params": list(net.parameters()), "weight_decay": o.weight_decay}]
            else:
                # Routed FFNs leave the experts no token chose without gradients in a step.
                net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                                                find_unused_parameters=model.config.moe is not None)
        optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=o.weight_decay)
        torch.manual_seed(o.seed)
        losses = []
        clock = time.time()
        net.train()
        for step in range(o.steps):
            lr = learning_rate(step, o)
            for g in optimizer.param_groups:
                g["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for _ in range(o.grad_accum):
                x, y = sampler.next_rows(o.batch_size * world)
                rows = slice(rank * o.batch_size, (rank + 1) * o.batch_size)
                routing = [] if aux_coef > 0 else None
                logits = net(x[rows].to(device), routing)
                loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), y[rows].to(device).reshape(-1))
                if routing:
                    loss = loss + aux_coef * aux_loss(routing)
                (loss / o.grad_accum).backward()
                step_loss += loss.item() / o.grad_accum
            if distributed:
                t = torch.tensor([step_loss], device=device)
                dist.all_reduce(t)
                step_loss = t.item() / world
            torch.nn.utils.clip_grad_norm_(net.parameters(), o.clip if o.clip > 0 else float("inf"))
            optimizer.step()
            if not math.isfinite(step_loss):
                raise ValueError(f"loss became {step_loss} at step {step + 1}; lower --lr or check the data")
            losses.append(step_loss)
            if rank == 0 and ((step + 1) % o.log_every == 0 or step + 1 == o.steps):
                tps = (step + 1) * o.batch_size * world * o.seq_len * o.grad_accum / max(time.time() - clock, 1e-9)
                print(f"train step {step + 1}/{o.steps} loss {step_loss:.4f} lr {lr:.3g} {tps:,.0f} tok/s", flush=True)
        if rank == 0:
            save_model(model, model_dir, out_dir)
            if o.losses_path:
                with open(o.losses_path, "w", encoding="utf-8") as f:
                    json.dump({"losses": losses, "world_size": world}, f)
            print(f"Saved {out_dir} after {o.steps} steps on {world} process(es): loss {losses[-1]:.4f}", flush=True)
    finally:
        if distributed:
            dist.barrier()
            dist.destroy_process_group()
