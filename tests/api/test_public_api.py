"""The public API: `import sdlscape` is cheap and every advertised name resolves."""
import subprocess
import sys

import sdlscape


def test_import_is_cheap():
    code = ("import sys, sdlscape; sdlscape.Piece; sdlscape.ReLU; sdlscape.Pattern; "
            "print(sorted(m for m in ('torch', 'cvxpy', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_exported_name_resolves_and_has_a_docstring():
    for name in sdlscape.__all__:
        obj = getattr(sdlscape, name)
        if callable(obj) and name != "InputError":
            assert (obj.__doc__ or "").strip(), f"sdlscape.{name} has no docstring"
    assert set(sdlscape.__all__) <= set(dir(sdlscape))


def test_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError):
        sdlscape.no_such_thing  # noqa: B018


def test_readme_library_example_runs():
    import sdlscape as sdl

    inst = sdl.example_3_5()
    piece = sdl.Piece(inst, sdl.Pattern.parse([[0, 1], []], inst.n, inst.n_latents))
    res = sdl.solve_piece(piece, starts=2)
    assert piece.realizable and res.outcome is sdl.Outcome.PARTIAL_OPTIMUM and abs(res.best_loss - 1.0) < 1e-8


def test_dir_lists_the_public_names_only():
    import sdlscape

    names = dir(sdlscape)
    assert names == sorted(sdlscape.__all__)
    assert "importlib" not in names and "Any" not in names


def test_readme_python_block_runs_as_printed():
    """The README's library example, executed verbatim; its printed lines are the ones its comments give."""
    import contextlib
    import io
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "README.md"
    code = re.search(r"## Library\n\n```python\n(.*?)```", readme.read_text(), re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue().split("\n")
    comments = [line.split("# ", 1)[1].split(":")[0].strip() for line in code.splitlines() if "print(" in line]
    assert printed[0] == "True" and printed[1] == "partial_optimum 1.0" and printed[2] == "certified True"
    assert comments[0].startswith("True") and comments[1] == "partial_optimum 1.0" and comments[2] == "certified True"
