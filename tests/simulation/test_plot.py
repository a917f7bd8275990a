"""The plot is a real PNG file; without matplotlib the refusal names the extra to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from marketplace_core.adapters.memory import InMemoryStorage
from marketplace_core.errors import MarketplaceError
from marketplace_core.simulation import PlotUnavailableError, draw_plot, parse_scenario, simulate
from tests.simulation.support import small

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_the_plot_is_written_as_a_png_file(tmp_path: Path):
    report = simulate(parse_scenario(small()), InMemoryStorage())
    assert report.firings, "the small scenario fires its policy, so markers are drawn"
    path = draw_plot(report, tmp_path / "costs.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_without_matplotlib_the_plot_is_refused_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    report = simulate(parse_scenario(small()), InMemoryStorage())
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlotUnavailableError) as refused:
        draw_plot(report, tmp_path / "costs.png")
    assert "pip install 'marketplace-core[plot]'" in str(refused.value)
    assert isinstance(refused.value, MarketplaceError)
    assert isinstance(refused.value, ImportError)
    assert not (tmp_path / "costs.png").exists()
