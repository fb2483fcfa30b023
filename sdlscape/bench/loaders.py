"""Dictionaries trained elsewhere, read from their own on-disk formats into one explicit orientation.

Every loader returns a :class:`LoadedSAE` whose ``W_enc`` holds the encoder directions as ROWS
(d_sae x d_in: sdlscape's W_E, SAELens's ``W_enc.T``, an ``nn.Linear`` encoder's ``weight``) and
``W_dec`` the decoder directions as ROWS (d_sae x d_out: SAELens's ``W_dec``, sdlscape's ``W_D.T``,
an ``nn.Linear`` decoder's ``weight.T``); ``encode`` / ``decode`` apply the biases exactly as the SAE does.

Formats (:func:`detect_format` decides from the files, never from shapes):

* ``saelens``: a folder with ``cfg.json`` + ``sae_weights.safetensors``, read by sae-lens's own
  ``SAE.load_from_disk``; encode/decode are the SAE's own methods.
* ``sparsify``: EleutherAI sparsify's ``SparseCoder.save_to_disk`` folder (``cfg.json`` + ``sae.safetensors``:
  ``encoder.weight`` d_sae x d_in, ``encoder.bias``, ``W_dec`` d_sae x d_in, ``b_dec``); encode is
  TopK(ReLU(encoder(x - b_dec))) (sparsify/fused_encoder.py), decode codes @ W_dec + b_dec.
* ``dictionary_learning``: an ``ae.pt`` state dict of one of its classes, told apart by its keys (and by
  ``config.json``'s ``trainer.dict_class`` beside it for TopK vs BatchTopK); the forward of each class is
  copied from dictionary_learning/dictionary.py and trainers/*.py (tests check it against the package).
* ``plain``: a ``.safetensors`` or ``.npz`` file with ``W_enc``, ``W_dec`` and optional ``b_enc``, ``b_dec``,
  ``threshold``, ``k``, ``activation`` (relu | topk | jumprelu; default relu, or topk when k is given),
  ``apply_b_dec_to_input``, ``layout``.  Orientation is declared, never guessed from shapes (an SAE with
  d_in = d_out fits both readings): SAELens's (W_enc d_in x d_sae, W_dec d_sae x d_out) unless ``layout``
  is ``"linear"`` (nn.Linear weights: W_enc d_sae x d_in, W_dec d_out x d_sae); recorded in ``info["orientation"]``.
  Scalars go in an .npz as 0-d arrays, in a .safetensors as metadata strings (or a tensor ``k``).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sdlscape.errors import InputError
from sdlscape.theory.instance_types import axis_length

FORMATS = ("saelens", "sparsify", "dictionary_learning", "plain")
PLAIN_SCALARS = ("activation", "k", "apply_b_dec_to_input", "layout")


@dataclass
class LoadedSAE:
    """A dictionary in sdlscape's orientation with its own forward (see the module docstring)."""

    format: str
    path: str
    W_enc: np.ndarray                       # d_sae x d_in, encoder directions as rows
    W_dec: np.ndarray                       # d_sae x d_out, decoder directions as rows
    encode: Callable[[torch.Tensor], torch.Tensor]
    decode: Callable[[torch.Tensor], torch.Tensor]
    architecture: str
    info: dict = field(default_factory=dict)

    d_sae = axis_length("W_enc", 0, "number of latents")
    d_in = axis_length("W_enc", 1, "input dimension")
    d_out = axis_length("W_dec", 1, "output dimension")


# ---------------------------------------------------------------- one explicit forward for the non-SAELens formats

@dataclass
class AffineCode:
    """codes = act((x - b_in) @ W_enc.T + b_enc); recon = codes @ W_dec + b_dec (rows as in LoadedSAE).

    act: "relu"; "topk" (ReLU, then the k largest per sample); "jumprelu" (z * (z > threshold), threshold
    per latent); "threshold" (ReLU, then > a global threshold: BatchTopK's inference rule); "gated"
    (gate 1[z + b_gate > 0] times ReLU(exp(r_mag) z + b_mag)).
    """

    W_enc: torch.Tensor
    W_dec: torch.Tensor
    act: str
    b_enc: torch.Tensor | None = None
    b_in: torch.Tensor | None = None
    b_dec: torch.Tensor | None = None
    k: int | None = None
    threshold: torch.Tensor | None = None
    gate: dict | None = None

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.W_enc.dtype)
        if self.b_in is not None:
            x = x - self.b_in
        z = x @ self.W_enc.t()
        if self.act == "gated":
            g = self.gate
            return (z + g["b_gate"] > 0).to(z.dtype) * torch.relu(torch.exp(g["r_mag"]) * z + g["b_mag"])
        if self.b_enc is not None:
            z = z + self.b_enc
        if self.act == "jumprelu":
            return torch.relu(z) * (z > self.threshold)
        z = torch.relu(z)
        if self.act == "topk":
            vals, idx = z.topk(min(self.k, z.shape[1]), dim=1)
            return torch.zeros_like(z).scatter_(1, idx, vals)
        if self.act == "threshold":
            return z * (z > self.threshold)
        return z

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        out = codes.to(self.W_dec.dtype) @ self.W_dec
        return out + self.b_dec if self.b_dec is not None else out


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float32)) if not isinstance(a, torch.Tensor) else a.float()


def _from_code(fmt: str, path: Path, code: AffineCode, architecture: str, info: dict) -> LoadedSAE:
    if code.W_enc.shape[0] != code.W_dec.shape[0]:
        raise InputError(f"{path}: encoder has {code.W_enc.shape[0]} latents but decoder {code.W_dec.shape[0]}")
    return LoadedSAE(fmt, str(path), code.W_enc.numpy(), code.W_dec.numpy(), code.encode, code.decode,
                     architecture, info)


# ---------------------------------------------------------------- detection

def detect_format(path) -> tuple[str, Path]:
    """(format, the file or folder to read) of a dictionary on disk; InputError naming what was found."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"--sae {str(path)!r}: no such file or folder")
    if p.is_dir():
        if (p / "cfg.json").exists() and (p / "sae_weights.safetensors").exists():
            return "saelens", p
        if (p / "cfg.json").exists() and (p / "sae.safetensors").exists():
            return "sparsify", p
        if (p / "ae.pt").exists():
            return "dictionary_learning", p / "ae.pt"
        subs = sorted(q for q in p.iterdir() if q.is_dir() and (q / "sae.safetensors").exists())
        if len(subs) == 1:            # sparsify saves one folder per hook point
            return "sparsify", subs[0]
        if subs:
            raise InputError(f"--sae {str(path)!r} holds {len(subs)} sparsify coders ({', '.join(q.name for q in subs)}); "
                             "give one of their folders")
        raise InputError(f"--sae {str(path)!r}: not a SAELens folder (cfg.json + sae_weights.safetensors), a sparsify "
                         "folder (cfg.json + sae.safetensors) or a folder with a dictionary_learning ae.pt")
    if p.suffix == ".pt":
        return "dictionary_learning", p
    if p.suffix in (".safetensors", ".npz"):
        return "plain", p
    raise InputError(f"--sae {str(path)!r}: unknown format (expected a folder, ae.pt, .safetensors or .npz)")


def load_sae(path) -> LoadedSAE:
    """Detect the format of ``path`` and load it (InputError, one line, for anything unreadable)."""
    fmt, p = detect_format(path)
    loader = {"saelens": load_saelens_dir, "sparsify": load_sparsify_dir,
              "dictionary_learning": load_dictionary_learning, "plain": load_plain}[fmt]
    try:
        return loader(p)
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, json.JSONDecodeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"--sae {str(path)!r}: cannot read it as {fmt} ({msg})") from None


# ---------------------------------------------------------------- the formats

def load_saelens_dir(path: Path) -> LoadedSAE:
    try:
        from sae_lens import SAE
    except ImportError:
        raise InputError("reading a SAELens folder needs sae-lens: pip install 'sdlscape[saelens]'") from None
    sae = SAE.load_from_disk(str(path), device="cpu", dtype="float32")
    sae.eval()
    W_enc = sae.W_enc.detach().float().t().contiguous().numpy()        # SAELens: d_in x d_sae
    W_dec = sae.W_dec.detach().float().contiguous().numpy()            # SAELens: d_sae x d_in
    arch = sae.cfg.architecture()

    def encode(x):
        with torch.no_grad():
            return sae.encode(x.float())

    def decode(c):
        with torch.no_grad():
            return sae.decode(c.float())

    info = {"orientation": "SAELens W_enc (d_in x d_sae) transposed to rows; W_dec (d_sae x d_out) as is",
            "apply_b_dec_to_input": bool(getattr(sae.cfg, "apply_b_dec_to_input", False)),
            "k": getattr(sae.cfg, "k", None), "loader": "sae_lens.SAE.load_from_disk"}
    return LoadedSAE("saelens", str(path), W_enc, W_dec, encode, decode, arch, info)


def _safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def load_sparsify_dir(path: Path) -> LoadedSAE:
    cfg = json.loads((path / "cfg.json").read_text())
    t = _safetensors(path / "sae.safetensors")
    if cfg.get("activation", "topk") != "topk":
        raise InputError(f"{path}: sparsify activation {cfg.get('activation')!r} is not supported (topk only)")
    if "W_skip" in t or cfg.get("transcode"):
        raise InputError(f"{path}: sparsify skip connections / transcoders are not supported")
    code = AffineCode(W_enc=t["encoder.weight"].float(), W_dec=t["W_dec"].float(), act="topk",
                      b_enc=t["encoder.bias"].float(), b_in=t["b_dec"].float(), b_dec=t["b_dec"].float(),
                      k=int(cfg["k"]))
    info = {"orientation": "sparsify encoder.weight (d_sae x d_in) and W_dec (d_sae x d_in) are rows already",
            "k": int(cfg["k"]), "d_in": cfg.get("d_in"), "loader": "sdlscape (sparsify SparseCoder layout)"}
    return _from_code("sparsify", path, code, "topk", info)


def _dl_dict_class(path: Path) -> str | None:
    cfg = path.parent / "config.json"
    if cfg.exists():
        try:
            return json.loads(cfg.read_text()).get("trainer", {}).get("dict_class")
        except (ValueError, AttributeError):
            return None
    return None


def load_dictionary_learning(path: Path) -> LoadedSAE:
    sd = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(sd, dict):
        raise InputError(f"{path}: not a state dict (dictionary_learning saves ae.state_dict())")
    sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    keys, dict_class = set(sd), _dl_dict_class(path)
    lin = "encoder.weight" in keys

    def dec_rows():   # nn.Linear(dict_size, activation_dim).weight is d_in x d_sae; W_dec parameters are d_sae x d_in
        return sd["decoder.weight"].t().contiguous() if "decoder.weight" in keys else sd["W_dec"]

    def enc_rows():
        return sd["encoder.weight"] if lin else sd["W_enc"].t().contiguous()

    if {"bias", "encoder.bias", "decoder.weight"} <= keys:                       # AutoEncoder (standard)
        cls, code = "AutoEncoder", AffineCode(enc_rows(), dec_rows(), "relu", b_enc=sd["encoder.bias"],
                                              b_in=sd["bias"], b_dec=sd["bias"])
    elif {"r_mag", "gate_bias", "mag_bias"} <= keys:                              # GatedAutoEncoder
        cls, code = "GatedAutoEncoder", AffineCode(enc_rows(), dec_rows(), "gated", b_in=sd["decoder_bias"],
                                                   b_dec=sd["decoder_bias"],
                                                   gate={"b_gate": sd["gate_bias"], "r_mag": sd["r_mag"],
                                                         "b_mag": sd["mag_bias"]})
    elif "k" in keys:                                                             # TopK / BatchTopK / Matryoshka
        b_enc = sd["encoder.bias"] if lin else sd["b_enc"]
        k, thr = int(sd["k"]), sd["threshold"]
        per_sample = dict_class == "AutoEncoderTopK" or (dict_class is None and lin and "group_sizes" not in keys)
        cls = dict_class or ("AutoEncoderTopK" if per_sample else "BatchTopKSAE")
        if per_sample or float(thr) < 0:   # batch classes with no inference threshold yet fall back to TopK
            code = AffineCode(enc_rows(), dec_rows(), "topk", b_enc=b_enc, b_in=sd["b_dec"], b_dec=sd["b_dec"], k=k)
        else:
            code = AffineCode(enc_rows(), dec_rows(), "threshold", b_enc=b_enc, b_in=sd["b_dec"], b_dec=sd["b_dec"],
                              threshold=thr)
    elif {"W_enc", "b_enc", "W_dec", "b_dec", "threshold"} <= keys:               # JumpReluAutoEncoder
        cls, code = "JumpReluAutoEncoder", AffineCode(enc_rows(), dec_rows(), "jumprelu", b_enc=sd["b_enc"],
                                                      b_dec=sd["b_dec"], threshold=sd["threshold"])
    else:
        raise InputError(f"{path}: state dict keys {sorted(keys)} match no dictionary_learning class")
    arch = {"relu": "standard", "topk": "topk", "threshold": "batchtopk", "jumprelu": "jumprelu",
            "gated": "gated"}[code.act]
    info = {"dict_class": cls, "dict_class_from": "config.json" if dict_class else "state dict keys",
            "k": code.k, "orientation": "nn.Linear encoder weight (d_sae x d_in) as rows, decoder weight "
                                        "(d_in x d_sae) transposed; W_enc parameters (d_in x d_sae) transposed",
            "loader": "sdlscape (dictionary_learning state dict)"}
    return _from_code("dictionary_learning", path, code, arch, info)


def _plain_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = {k: (str(v) if v.dtype.kind in "US" else v.item()) for k, v in arrays.items()
                if v.ndim == 0 and k in PLAIN_SCALARS}
        return {k: v for k, v in arrays.items() if k not in meta}, meta
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        arrays = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata() or {})
    if "k" in arrays:
        meta["k"] = int(arrays.pop("k"))
    return arrays, meta


def load_plain(path: Path) -> LoadedSAE:
    arrays, meta = _plain_arrays(path)
    if "W_enc" not in arrays or "W_dec" not in arrays:
        raise InputError(f"{path}: a plain dictionary needs arrays W_enc and W_dec, found {', '.join(sorted(arrays))}")
    We, Wd = np.asarray(arrays["W_enc"], np.float32), np.asarray(arrays["W_dec"], np.float32)
    if We.ndim != 2 or Wd.ndim != 2:
        raise InputError(f"{path}: W_enc and W_dec must be matrices, got shapes {We.shape} and {Wd.shape}")
    layout = str(meta.get("layout", "saelens")).lower().replace(".", "")
    if layout not in ("saelens", "linear", "nnlinear"):
        raise InputError(f"{path}: layout {layout!r} is not saelens or linear")
    if layout == "saelens":                            # W_enc d_in x d_sae, W_dec d_sae x d_out
        orientation = "SAELens (W_enc d_in x d_sae, W_dec d_sae x d_out)"
        enc_rows, dec_rows = We.T, Wd
        fits = We.shape[1] == Wd.shape[0]
    else:                                              # nn.Linear: W_enc d_sae x d_in, W_dec d_out x d_sae
        orientation = "nn.Linear (W_enc d_sae x d_in, W_dec d_out x d_sae), transposed to SAELens's"
        enc_rows, dec_rows = We, Wd.T
        fits = We.shape[0] == Wd.shape[1]
    if not fits:
        hint = ("; in nn.Linear layout they would fit: add layout='linear'"
                if layout == "saelens" and We.shape[0] == Wd.shape[1] else "")
        raise InputError(f"{path}: W_enc {We.shape} and W_dec {Wd.shape} share no latent dimension in the "
                         f"{orientation.split(' (')[0]} layout{hint}")
    d_sae = enc_rows.shape[0]
    k = meta.get("k")
    act = str(meta.get("activation", "topk" if k is not None else "relu")).lower()
    act = {"topk_relu": "topk", "standard": "relu"}.get(act, act)
    if act not in ("relu", "topk", "jumprelu"):
        raise InputError(f"{path}: activation {act!r} is not one of relu, topk, jumprelu")
    if act == "topk" and (k is None or not 1 <= int(k) <= d_sae):
        raise InputError(f"{path}: activation topk needs k in [1, {d_sae}], got {k}")
    if act == "jumprelu" and "threshold" not in arrays:
        raise InputError(f"{path}: activation jumprelu needs a threshold array")

    def vec(name, size):
        if name not in arrays:
            return None
        v = np.asarray(arrays[name], np.float32).reshape(-1)
        if v.size != size:
            raise InputError(f"{path}: {name} has {v.size} entries, expected {size}")
        return _t(v)

    b_dec = vec("b_dec", dec_rows.shape[1])
    apply_in = str(meta.get("apply_b_dec_to_input", "false")).lower() in ("1", "true")
    if apply_in and dec_rows.shape[1] != enc_rows.shape[1]:
        raise InputError(f"{path}: apply_b_dec_to_input needs d_in = d_out")
    code = AffineCode(_t(enc_rows), _t(dec_rows), act, b_enc=vec("b_enc", d_sae), b_dec=b_dec,
                      b_in=b_dec if apply_in else None, k=int(k) if act == "topk" else None,
                      threshold=vec("threshold", d_sae))
    info = {"orientation": orientation, "activation": act, "k": code.k, "apply_b_dec_to_input": apply_in,
            "loader": "sdlscape (plain arrays)"}
    return _from_code("plain", path, code, {"relu": "standard"}.get(act, act), info)
