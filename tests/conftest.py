"""Shared pytest configuration: the --runslow flag for tests marked slow, and fixtures used in several folders."""
import pytest
from hypothesis import settings

# No test's verdict may depend on wall-clock time or machine load: hypothesis's default 200 ms per-example
# deadline fails a correct example that ran slowly on a loaded machine, so the project's profile has none
# (budgets are max_examples). A test's own @settings inherits from this profile.
settings.register_profile("sdlscape", deadline=None)
settings.load_profile("sdlscape")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)



@pytest.fixture
def cached_stage():
    """cached_stage(folder) -> (cache, path, fn, calls): a StageCache in folder holding one "verify" stage
    computed by fn, which counts its calls in `calls` (so a test can tell a reuse from a recomputation)."""
    from sdlscape.pipeline.reproduce import StageCache

    def make(folder):
        cache = StageCache(folder, lambda m: None)
        calls = []
        fn = lambda: calls.append(1) or {"v": len(calls)}  # noqa: E731
        cache.run("verify", {"b": 1}, fn)
        return cache, cache.path("verify", {"b": 1}), fn, calls

    return make


@pytest.fixture
def no_calibration_record(tmp_path, monkeypatch):
    """Searches start at the generic hints: the package's calibration record (bench/calibration_record.py) hidden."""
    from sdlscape.bench import calibration_record

    monkeypatch.setattr(calibration_record, "RECORD_FILE", tmp_path / "no-record.json")
    calibration_record._load.cache_clear()
    yield
    calibration_record._load.cache_clear()
