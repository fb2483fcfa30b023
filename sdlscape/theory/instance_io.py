"""The instance file of ARCHITECTURE.md (.json or .npz): load_instance and save_instance."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sdlscape.errors import InputError
from sdlscape.theory.instance_types import Instance


def _read_npz(path: Path, what: str) -> dict[str, Any]:
    """The keys of an .npz instance file as plain values; JSON text for activation/law/parents."""
    import zipfile

    if not zipfile.is_zipfile(path):
        raise InputError(f"{what}: not a valid .npz file (not a zip archive of .npy arrays)")
    d: dict[str, Any] = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                try:
                    v = z[key]
                except ValueError:
                    raise InputError(f"{what}: {key}: holds an object (pickled) array; "
                                     "only numeric arrays and strings are accepted") from None
                if not isinstance(v, np.ndarray):
                    raise InputError(f"{what}: not a valid .npz file ({key!r} is not a .npy array)")
                if v.dtype.kind in "US":
                    text = str(v) if v.ndim == 0 else None
                    if text is None:
                        raise InputError(f"{what}: {key}: expected one string, got an array of {v.size}")
                    d[key] = _npz_text(key, text, what)
                elif v.dtype.kind not in "biuf":
                    raise InputError(f"{what}: {key}: expected a numeric array, got dtype {v.dtype}")
                else:
                    d[key] = v.item() if v.ndim == 0 else v.tolist()
    except InputError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{what}: not a valid .npz file ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    return d


def _npz_text(key: str, text: str, what: str) -> Any:
    """A string entry of an .npz: the name as is; activation as JSON or a bare name; law/parents as JSON."""
    if key == "name":
        return text
    if key not in ("activation", "law", "parents"):
        raise InputError(f"{what}: {key}: expected a numeric array, got the string {text[:30]!r}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if key == "activation" and text.strip() and not text.lstrip().startswith(("{", "[", '"')):
            return text.strip()              # a bare activation name, e.g. "relu"
        raise InputError(f"{what}: {key}: not valid JSON text ({exc})") from None


def load_instance(path: str | Path, normalize: bool = False) -> Instance:
    """Read an instance file (JSON, or .npz with the same keys). Bad files raise InputError (one line)."""
    from sdlscape.schema import parse_json_text

    path = Path(path)
    what = f"instance file {str(path)!r}"
    if path.is_dir():
        raise InputError(f"{what}: is a directory, not an instance file")
    if not path.is_file():
        raise InputError(f"cannot read {what}: no such file")
    if path.suffix == ".npz":
        d: Any = _read_npz(path, what)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{what} is not a JSON text file (use .npz for binary instance files)") from None
        except OSError as exc:
            raise InputError(f"cannot read {what}: {exc.strerror or exc}") from None
        d = parse_json_text(text, what)
    inst = Instance.from_dict(d, normalize=normalize, what=what)
    if not inst.name:
        inst = inst.with_(name=path.stem)
    return inst


def save_instance(inst: Instance, path: str | Path) -> None:
    """Write an instance file atomically: .npz if the suffix says so, JSON otherwise."""
    from sdlscape.storage import write_bytes, write_json

    path = Path(path)
    if path.suffix == ".npz":
        import io

        d = inst.to_dict()
        arrays = {k: np.asarray(v) for k, v in d.items() if k in ("W_p", "W_r", "M", "n_latents")}
        for k in ("activation", "law", "parents", "name"):
            if k in d:
                arrays[k] = np.asarray(json.dumps(d[k]) if k != "name" else d[k])
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_bytes(path, buf.getvalue())
    else:
        write_json(path, inst.to_dict())
