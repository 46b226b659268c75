#!/usr/bin/env python3
"""HybridSharp's PyTorch twin: score and train HybridSharp model directories with PyTorch (≥ 1.13).

    python3 python/hybrid_torch.py score MODEL_DIR --text "some text" --json
    python3 python/hybrid_torch.py score MODEL_DIR --ids 256,72,105 --json
    torchrun --nproc_per_node 2 python/hybrid_torch.py train MODEL_DIR --data DATA_DIR --steps 100 --out OUT

`score` prints the log-probability of every token after the first given the ones before it (the first token — BOS for
the byte tokenizer — is context, as in `hybrid score --json`). `train` reads the token shards `hybrid data` writes,
trains with DistributedDataParallel (gloo on CPU, nccl on GPU) and writes OUT as a model directory that every
`hybrid` command loads. Errors print one line and exit with code 2.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def byte_ids(model_dir, text):
    """The byte tokenizer's encoding with BOS: UTF-8 bytes, special-token texts (<|…|>) as their ids."""
    path = os.path.join(model_dir, "tokenizer_config.json")
    special = {}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            tc = json.load(f)
        if tc.get("hybridsharp_tokenizer") != "byte":
            raise ValueError(f"{model_dir} does not use the byte tokenizer; pass --ids (e.g. from `hybrid tokenize`)")
        special = tc.get("special_tokens", {})
    ids = [special.get("<|bos|>", 256)]
    pos = 0
    while pos < len(text):
        nxt = text.find("<|", pos)
        if nxt < 0:
            nxt = len(text)
        ids.extend(text[pos:nxt].encode("utf-8"))
        if nxt >= len(text):
            break
        for s, i in special.items():
            if text.startswith(s, nxt):
                ids.append(i)
                pos = nxt + len(s)
                break
        else:
            ids.extend(text[nxt:nxt + 2].encode("utf-8"))
            pos = nxt + 2
    return ids


def cmd_score(args):
    import math

    import torch
    from hybridtorch import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype] if args.dtype else None
    given = None
    if args.ids:
        try:
            given = [int(x) for x in args.ids.replace(" ", "").split(",") if x]
        except ValueError:
            raise ValueError("--ids must be comma-separated integers") from None
    elif args.text is None:
        raise ValueError("give --text or --ids")
    for model_dir in args.model_dir:
        model = load_model(model_dir, dtype)
        model.eval()
        ids = given if given is not None else byte_ids(model_dir, args.text)
        if len(ids) < 2:
            raise ValueError("need at least two tokens (the first is context)")
        if any(i < 0 or i >= model.config.vocab_size for i in ids):
            raise ValueError(f"token ids must be in 0..{model.config.vocab_size - 1}")
        with torch.no_grad():
            logits = model(torch.tensor([ids]))
            logp = torch.log_softmax(logits[0, :-1].double(), -1)
            picked = logp.gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1).tolist()
        nll = -sum(picked)
        if args.json:
            print(json.dumps({"model": model_dir, "ids": ids[1:], "first_id": ids[0], "logprobs": picked, "total_nll": nll}),
                  flush=True)
        else:
            print(f"{model_dir}: {len(picked)} tokens, total NLL {nll:.4f}, perplexity {math.exp(nll / len(picked)):.4f}")


def cmd_train(args):
    from hybridtorch.train import TrainOptions, train

    o = TrainOptions(steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr, min_lr=args.min_lr,
                     warmup=args.warmup, schedule=args.schedule, weight_decay=args.weight_decay, clip=args.clip,
                     seed=args.seed, grad_accum=args.grad_accum, log_every=args.log_every, fsdp=args.fsdp,
                     losses_path=args.losses)
    train(args.model_dir, args.data, args.out, o)


def main(argv=None):
    p = argparse.ArgumentParser(prog="hybrid_torch", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score", help="per-token log-probabilities of a text under a model directory")
    s.add_argument("model_dir", nargs="+", help="one or more model directories (one line of output each)")
    s.add_argument("--text")
    s.add_argument("--ids", help="comma-separated token ids (the first is context)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--dtype", choices=["float32", "float64"])
    s.add_argument("--threads", type=int, default=0)
    s.set_defaults(run=cmd_score)
    t = sub.add_parser("train", help="train a model directory on `hybrid data` token shards (DDP under torchrun)")
    t.add_argument("model_dir")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--batch-size", type=int, default=16, help="rows per step on each process")
    t.add_argument("--seq-len", type=int, default=256)
    t.add_argument("--grad-accum", type=int, default=1)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--min-lr", type=float, default=3e-4)
    t.add_argument("--warmup", type=int, default=50)
    t.add_argument("--schedule", choices=["cosine", "wsd", "constant"], default="cosine")
    t.add_argument("--weight-decay", type=float, default=0.1)
    t.add_argument("--clip", type=float, default=1.0)
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--log-every", type=int, default=10)
    t.add_argument("--fsdp", action="store_true", help="wrap with FullyShardedDataParallel (where the installed torch has it)")
    t.add_argument("--losses", help="also write every step's loss to this JSON file")
    t.set_defaults(run=cmd_train)
    args = p.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
