"""The attention demo: a one-layer text transformer trained in a second on made-up reviews."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from whybox._exceptions import InputError
from whybox.adapters._torch import import_torch

POSITIVE_WORDS = ("good", "great", "excellent", "wonderful", "superb", "enjoyable", "brilliant")
NEGATIVE_WORDS = ("bad", "awful", "terrible", "boring", "dreadful", "poor", "dull")
FILLER_WORDS = (
    "the",
    "movie",
    "film",
    "was",
    "plot",
    "acting",
    "and",
    "it",
    "really",
    "story",
    "this",
    "a",
    "very",
    "quite",
    "ending",
    "cast",
    "i",
    "thought",
    "seemed",
    "overall",
)
PAD, CLS, UNK = "[PAD]", "[CLS]", "[UNK]"


@dataclass(frozen=True, eq=False)
class TextTransformer:
    """A trained one-layer transformer sentiment classifier with its vocabulary and data.

    The model reads ``[CLS]`` followed by the words of a sentence: token embeddings
    (no positions: the task is a bag of words), one ``nn.TransformerEncoderLayer``
    (``batch_first=True``, 2 heads, padding masked out) and a linear head on the
    ``[CLS]`` token, so everything the head sees about the words reaches ``[CLS]``
    through attention.

    Attributes
    ----------
    model : torch.nn.Module
        In eval mode, float32, on the CPU. Input: token ids (n, n_tokens) from
        :meth:`encode`; output: (n, 2) logits for ("negative", "positive").
    vocab : dict of str to int
        Token -> id; ``"[PAD]"`` is 0, ``"[CLS]"`` 1, ``"[UNK]"`` 2.
    sentences, test_sentences : tuple of str
        Training and held-out sentences: filler words with one or two sentiment words;
        a third of them also hold one word of the other sentiment.
    labels, test_labels : ndarray of shape (n,), int64
        1 when the sentence has more positive than negative words, else 0.
    class_names : tuple of str
        ``("negative", "positive")``.
    test_accuracy : float
        Accuracy on the held-out sentences.
    positive_words, negative_words, filler_words : tuple of str
        The word lists the sentences are drawn from.
    description : str
    """

    model: Any
    vocab: dict[str, int]
    sentences: tuple[str, ...]
    labels: np.ndarray
    test_sentences: tuple[str, ...]
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    test_accuracy: float
    positive_words: tuple[str, ...]
    negative_words: tuple[str, ...]
    filler_words: tuple[str, ...]
    description: str

    def tokenize(self, sentence: str) -> list[str]:
        """The tokens of one sentence: ``"[CLS]"``, then its lower-cased words."""
        return [CLS, *sentence.lower().split()]

    def encode(self, sentences: Sequence[str]) -> Any:
        """Token ids of sentences, padded with ``"[PAD]"`` (id 0) to the longest.

        Parameters
        ----------
        sentences : list of str
            Split on whitespace; unknown words become ``"[UNK]"``.

        Returns
        -------
        torch.LongTensor of shape (n_sentences, n_tokens)

        Raises
        ------
        InputError
            ``sentences`` is a single string or holds something other than strings.
        """
        torch = import_torch()
        if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
            raise InputError(
                f"sentences must be a list of str, got {type(sentences).__name__}; wrap one "
                "sentence in a list: encode([sentence])."
            )
        rows = [[self.vocab.get(w, self.vocab[UNK]) for w in self.tokenize(s)] for s in sentences]
        width = max((len(r) for r in rows), default=1)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        return ids

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        """The token strings of ids (as a Hugging Face tokenizer's method of that name)."""
        words = {i: w for w, i in self.vocab.items()}
        return [words.get(int(i), UNK) for i in ids]


def _sentences(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray]:
    """n sentences of 3-8 filler words with sentiment words placed at random."""
    sentences, labels = [], np.empty(n, dtype=np.int64)
    for i in range(n):
        label = int(rng.integers(2))
        main, other = (
            (POSITIVE_WORDS, NEGATIVE_WORDS) if label == 1 else (NEGATIVE_WORDS, POSITIVE_WORDS)
        )
        n_main = int(rng.integers(1, 3))
        words = list(rng.choice(FILLER_WORDS, size=int(rng.integers(3, 9))))
        sentiment = list(rng.choice(main, size=n_main))
        if n_main == 2 and rng.random() < 0.5:
            sentiment.append(str(rng.choice(other)))
        for w in sentiment:
            words.insert(int(rng.integers(len(words) + 1)), str(w))
        sentences.append(" ".join(str(w) for w in words))
        labels[i] = label
    return sentences, labels


def text_transformer_architecture(vocab_size: int, *, d_model: int = 16, n_heads: int = 2) -> Any:
    """The untrained demo classifier: embeddings, one encoder layer, a head on ``[CLS]``.

    The encoder layer's attention is ``encoder.self_attn`` (an
    ``nn.MultiheadAttention``); id 0 is padding and is masked out of the attention.
    """
    torch = import_torch()
    nn = torch.nn

    class TextTransformerClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=0)
            self.encoder = nn.TransformerEncoderLayer(
                d_model, n_heads, dim_feedforward=2 * d_model, dropout=0.0, batch_first=True
            )
            self.classifier = nn.Linear(d_model, 2)

        def forward(self, input_ids: Any) -> Any:
            hidden = self.encoder(self.embedding(input_ids), src_key_padding_mask=input_ids == 0)
            return self.classifier(hidden[:, 0])

    return TextTransformerClassifier()


def load_text_transformer(random_state: int = 0, *, steps: int = 120) -> TextTransformer:
    """Train the attention demo on generated sentiment sentences (about a second, no download).

    400 training and 200 held-out sentences are drawn from small word lists
    (:data:`POSITIVE_WORDS`, :data:`NEGATIVE_WORDS`, :data:`FILLER_WORDS`); the label
    is the majority sentiment. The model trains with full-batch Adam for ``steps``
    steps and reaches 96-100% held-out accuracy; the global torch random state is
    left as it was.

    Parameters
    ----------
    random_state : int, default 0
        Seeds the sentences and the initial weights; the same seed gives the same
        model.
    steps : int, default 120

    Returns
    -------
    TextTransformer
    """
    torch = import_torch()
    rng = np.random.default_rng(random_state)
    train, y_train = _sentences(rng, 400)
    test, y_test = _sentences(rng, 200)
    words = (PAD, CLS, UNK, *POSITIVE_WORDS, *NEGATIVE_WORDS, *FILLER_WORDS)
    vocab = {w: i for i, w in enumerate(words)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        model = text_transformer_architecture(len(vocab))
    demo = TextTransformer(
        model=model,
        vocab=vocab,
        sentences=tuple(train),
        labels=y_train,
        test_sentences=tuple(test),
        test_labels=y_test,
        class_names=("negative", "positive"),
        test_accuracy=float("nan"),
        positive_words=POSITIVE_WORDS,
        negative_words=NEGATIVE_WORDS,
        filler_words=FILLER_WORDS,
        description="",
    )
    x, y = demo.encode(train), torch.from_numpy(y_train)
    opt = torch.optim.Adam(model.parameters(), lr=1.5e-2)
    model.train()
    for _ in range(int(steps)):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(demo.encode(test)).argmax(1).numpy() == y_test).mean())
    object.__setattr__(demo, "test_accuracy", acc)
    object.__setattr__(
        demo,
        "description",
        f"one-layer transformer (2 heads, width 16) trained on {len(train)} generated "
        f"sentiment sentences; held-out accuracy {acc:.3f} on {len(test)} sentences.",
    )
    return demo
