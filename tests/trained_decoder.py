"""A trained 8-layer Llama for quantization tests, made in-process in about a minute.

Why: a Hugging Face model with random weights has nearly flat logits (median top-1 margin ~0.08 against a
spread of ~0.45 on the 8-layer, 512-wide, 8k-vocabulary Llama), so any weight rounding flips its greedy argmax
at a rate that says more about the flatness than about the quantizer. Deployed decoders are trained and their
next-token distributions are peaked. Downloading a checkpoint is not an option for the test suite, so this
module trains one: a seeded synthetic language with learnable structure, a fixed number of AdamW steps on CPU,
fixed seeds, no files read or written.

The language (`Language`): a sparse Markov chain over the whole vocabulary. Token frequencies follow a Zipf law
over a seeded permutation of the ids (real text is Zipfian, and it concentrates the ~1,400 training sequences on
tokens the model can learn); every token has `SUCCESSORS` successors drawn by those frequencies, taken with
peaked probabilities `SUCCESSOR_P`, and with probability `JUMP` the chain jumps to a fresh token instead. So the
next token depends on the context and the best achievable loss is ~1.9 nats (`entropy_rate`; log 8192 = 9.0).
90 steps (about a minute on 2 cores) reach a held-out loss of ~3.85 and a median top-1 logit margin of ~1.5:
far from converged, but clearly peaked and context-dependent, which is what the greedy-agreement bar is about.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

SUCCESSORS = 4
SUCCESSOR_P = np.array([0.70, 0.15, 0.10, 0.05])
JUMP = 0.1  # per step: the chain leaves its successor set for a Zipf-drawn token
ZIPF_EXPONENT, ZIPF_OFFSET = 1.1, 10.0

# issue 10's bigger decoder: the shape tests/test_quantize.py's random-weight variant uses
BIG_LLAMA = dict(num_hidden_layers=8, hidden_size=512, intermediate_size=1408, num_attention_heads=8,
                 num_key_value_heads=2, vocab_size=8192)


@dataclass(frozen=True)
class Language:
    """The chain: `frequency[v]` (Zipf, sums to 1) and `successors[v]` (SUCCESSORS ids per token)."""

    frequency: np.ndarray
    successors: np.ndarray

    @staticmethod
    def make(vocab: int, seed: int = 0) -> "Language":
        rng = np.random.default_rng(seed)
        weight = 1.0 / (np.arange(vocab) + ZIPF_OFFSET) ** ZIPF_EXPONENT
        frequency = np.empty(vocab)
        frequency[rng.permutation(vocab)] = weight / weight.sum()
        successors = np.empty((vocab, SUCCESSORS), np.int64)
        for lo in range(0, vocab, 512):  # Gumbel top-k: distinct ids drawn by frequency, 512 rows at a time
            keys = np.log(frequency)[None, :] - np.log(-np.log(rng.random((min(512, vocab - lo), vocab))))
            top = np.argpartition(-keys, SUCCESSORS, axis=1)[:, :SUCCESSORS]
            order = np.argsort(-np.take_along_axis(keys, top, 1), axis=1)  # the first drawn is the likeliest
            successors[lo:lo + len(top)] = np.take_along_axis(top, order, 1)
        return Language(frequency, successors)

    def sample(self, batch: int, seq_len: int, seed: int) -> np.ndarray:
        """`batch` sequences of `seq_len` tokens (int64), a deterministic function of `seed`."""
        rng = np.random.default_rng(seed)
        vocab = len(self.frequency)
        out = np.empty((batch, seq_len), np.int64)
        out[:, 0] = rng.choice(vocab, batch, p=self.frequency)
        for t in range(1, seq_len):
            pick = rng.choice(SUCCESSORS, batch, p=SUCCESSOR_P)
            nxt = self.successors[out[:, t - 1], pick]
            jump = rng.random(batch) < JUMP
            out[:, t] = np.where(jump, rng.choice(vocab, batch, p=self.frequency), nxt)
        return out

    def entropy_rate(self) -> float:
        """Nats per token of the chain's next-token distribution, ignoring the stationary weighting (a lower
        bound on the loss any model can reach, up to that weighting)."""
        stay = (1 - JUMP) * SUCCESSOR_P
        p = stay[None, :] + JUMP * self.frequency[self.successors]
        rest = JUMP * self.frequency
        h_rest = -(rest * np.log(rest)).sum() + (JUMP * self.frequency[self.successors] * np.log(
            JUMP * self.frequency[self.successors])).sum(1).mean()
        return float(-(p * np.log(p)).sum(1).mean() + h_rest)


@dataclass(frozen=True)
class Trained:
    """The trained model (float32, eval mode), its language, and how the training went."""

    model: object
    language: Language
    losses: tuple  # training loss per step
    seconds: float


@functools.lru_cache(maxsize=None)
def trained_llama(steps: int = 90, batch: int = 16, seq_len: int = 32, lr: float = 2e-3, seed: int = 0,
                  threads: int = 2) -> Trained:
    """`ft.tiny_llama(**BIG_LLAMA, seed=seed)` trained for `steps` AdamW steps on `batch` x `seq_len` sequences
    of `Language.make(8192, seed)` (a fresh seeded batch per step: no sequence is seen twice), learning rate
    warmed up over 10 steps, then cosine-decayed. Deterministic for a given `threads` (matmul reduction order
    depends on it); the torch random state of the caller is left as it was. Cached per process."""
    import torch

    from hlo_passes.frontends import torch as ft

    model = ft.tiny_llama(seed=seed, **BIG_LLAMA)
    language = Language.make(BIG_LLAMA["vocab_size"], seed)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    losses = []
    start = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0, fused=True)
            warm = 10

            def rate(step):
                if step < warm:
                    return (step + 1) / warm
                return 0.5 * (1 + np.cos(np.pi * (step - warm) / max(1, steps - warm))) * 0.9 + 0.1

            sched = torch.optim.lr_scheduler.LambdaLR(opt, rate)
            for step in range(steps):
                ids = torch.from_numpy(language.sample(batch, seq_len, seed=1_000_000 + seed * 10_000 + step))
                loss = model(input_ids=ids, labels=ids).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                sched.step()
                losses.append(float(loss.detach()))
    finally:
        torch.set_num_threads(before)
        model.eval()
    return Trained(model, language, tuple(losses), time.perf_counter() - start)


def held_out_prompts(language: Language, batch: int, seq_len: int) -> np.ndarray:
    """Sequences from the training language that training never drew (a seed outside the training range)."""
    return language.sample(batch, seq_len, seed=7)
