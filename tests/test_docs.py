"""The documentation site stays whole and true to the code, without building it.

``mkdocs build --strict`` (in ``.ci/run``) checks links and renders the API reference; these
tests check, in a few milliseconds, what the site's build would not: that every page is
reachable, that the generated diagrams match the lifecycles, that the code the pages show
runs, and that every name they import or document exists.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import unittest
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from marketplace_core import Completed, PluginCapabilities, ProcessingRequest
from marketplace_core.billing import INVOICE_LIFECYCLE
from marketplace_core.offerings import OFFERING_LIFECYCLE
from marketplace_core.orders import ORDER_LIFECYCLE
from marketplace_core.resources import RESOURCE_LIFECYCLE

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONFIG = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def config_section(name: str) -> str:
    """The lines of a top-level section of mkdocs.yml (read as text: the test extra has no
    YAML parser, and the config holds a Python tag that a safe loader refuses)."""
    match = re.search(rf"^{name}:[^\n]*\n((?:[ #][^\n]*\n|\n)*)", CONFIG, flags=re.MULTILINE)
    assert match is not None, f"mkdocs.yml has no {name} section"
    return match.group(1)


def nav_pages() -> list[str]:
    return re.findall(r"([\w./-]+\.md)\s*$", config_section("nav"), flags=re.MULTILINE)


def excluded(page: str) -> bool:
    patterns = [line.strip() for line in config_section("exclude_docs").splitlines()]
    return any(page.startswith(pattern) for pattern in patterns if pattern.endswith("/"))


def doc_pages() -> list[str]:
    return sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md"))


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------- the navigation


def test_every_page_in_docs_is_in_the_nav_or_excluded():
    listed = set(nav_pages())
    orphans = [p for p in doc_pages() if p not in listed and not excluded(p)]
    assert orphans == [], f"add these pages to the nav in mkdocs.yml: {orphans}"


def test_every_page_the_nav_names_exists_once():
    pages = nav_pages()
    assert len(pages) > 20
    assert [p for p in pages if not (DOCS / p).is_file()] == []
    assert len(pages) == len(set(pages)), "a page appears twice in the nav"


def test_ci_builds_the_site_strictly():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^[^#\n]*\bmkdocs build --strict", ci, flags=re.MULTILINE)
    assert re.search(r"^strict: true$", CONFIG, flags=re.MULTILINE)


def test_the_build_helpers_are_excluded_from_the_pages():
    assert excluded("scripts/hooks.py")
    assert "docs/scripts/hooks.py" in config_section("hooks")
    assert (DOCS / "scripts" / "hooks.py").is_file()


# ------------------------------------------------------------------------- the diagrams


def test_the_lifecycles_page_draws_every_lifecycle_from_the_code():
    lifecycles = load_script("lifecycles")
    drawn = lifecycles.blocks(page("lifecycles.md"))
    assert drawn == {
        "offering lifecycle": OFFERING_LIFECYCLE.to_mermaid(),
        "order lifecycle": ORDER_LIFECYCLE.to_mermaid(),
        "resource lifecycle": RESOURCE_LIFECYCLE.to_mermaid(),
        "invoice lifecycle": INVOICE_LIFECYCLE.to_mermaid(),
    }


def test_no_page_drifted_from_the_lifecycles():
    assert load_script("lifecycles").drifted() == {}, "run python docs/scripts/lifecycles.py"


def test_the_generator_redraws_a_drifted_diagram(tmp_path: Path):
    lifecycles = load_script("lifecycles")
    stale = page("lifecycles.md").replace("draft --> active: activate", "draft --> paused: pause")
    assert stale != page("lifecycles.md")
    (tmp_path / "lifecycles.md").write_text(stale, encoding="utf-8")
    (fresh,) = lifecycles.drifted(tmp_path).values()
    assert fresh == page("lifecycles.md")


def test_the_generator_refuses_a_block_no_lifecycle_draws():
    lifecycles = load_script("lifecycles")
    text = "<!-- BEGIN GENERATED: quota lifecycle -->\n```mermaid\n```\n"
    text += "<!-- END GENERATED: quota lifecycle -->\n"
    with pytest.raises(lifecycles.UnknownBlockError, match="'quota lifecycle' names no"):
        lifecycles.refresh(text, "quotas.md")


def test_the_generator_check_mode_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    lifecycles = load_script("lifecycles")
    assert lifecycles.main(["--check"]) == 0
    (tmp_path / "offerings.md").write_text(
        "<!-- BEGIN GENERATED: offering lifecycle -->\n```mermaid\nstale\n```\n"
        "<!-- END GENERATED: offering lifecycle -->\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(lifecycles, "DOCS", tmp_path)
    assert lifecycles.main(["--check"]) == 1
    assert "stale" in (tmp_path / "offerings.md").read_text(encoding="utf-8")


# ------------------------------------------------------------------------- the code shown


def test_the_quick_start_page_shows_the_readme_quick_start():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (readme_code,) = python_blocks(readme)
    assert python_blocks(page("quick-start.md"))[0] == readme_code


def test_the_quick_start_page_runs_as_written(capsys: pytest.CaptureFixture[str]):
    code = "".join(python_blocks(page("quick-start.md")))
    exec(compile(code, "docs/quick-start.md", "exec"), {})
    promised = [line.split("  # ", 1)[1] for line in code.splitlines() if "print(" in line]
    assert capsys.readouterr().out.splitlines() == promised == ["permission_denied"]


def run_plugin_how_to() -> dict[str, Any]:
    """Run the plugin how-to's code as one program; return its globals."""
    code = "\n".join(python_blocks(page("how-to/write-a-plugin.md")))
    namespace: dict[str, Any] = {"__name__": "write_a_plugin"}
    exec(compile(code, "docs/how-to/write-a-plugin.md", "exec"), namespace)
    return namespace


def run_contract(contract: type[unittest.TestCase]) -> unittest.TestResult:
    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(contract).run(result)
    return result


def test_the_plugin_how_to_passes_the_processor_contract_suite():
    result = run_contract(run_plugin_how_to()["TestProjectDirectories"])
    assert result.errors == []
    assert result.failures == []
    assert result.skipped == [], "the how-to should exercise every test of the suite"
    assert result.testsRun >= 12


def test_the_plugin_how_to_suite_catches_a_processor_that_leaves_directories_behind():
    how_to = run_plugin_how_to()

    class Leaky(how_to["ProjectDirectories"]):
        def terminate(self, request: ProcessingRequest) -> Completed:
            return Completed()  # reports success, removes nothing

    class TestLeaky(how_to["TestProjectDirectories"]):
        def make_plugin(self) -> tuple[Leaky, PluginCapabilities]:
            _, capabilities = super().make_plugin()
            return Leaky(self.server), capabilities

    result = run_contract(TestLeaky)
    failed = {test.id().rsplit(".", 1)[1] for test, _ in result.failures}
    assert "test_termination_removes_the_resource_from_the_backend" in failed


IMPORT = re.compile(r"^from (marketplace_core[\w.]*) import (\([^)]*\)|[^\n]+)", re.MULTILINE)


@pytest.mark.parametrize("name", doc_pages())
def test_every_name_a_page_imports_exists(name: str):
    for block in python_blocks(page(name)):
        for module_name, names in IMPORT.findall(block):
            module = importlib.import_module(module_name)
            for imported in re.findall(r"\w+", names.split("#", 1)[0]):
                if imported != "as" and not hasattr(module, imported):
                    importlib.import_module(f"{module_name}.{imported}")


def resolve(identifier: str) -> object:
    """The object a mkdocstrings identifier names: the longest importable module prefix,
    then attributes."""
    parts = identifier.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(identifier)


REFERENCE_PAGES = sorted(p for p in doc_pages() if p.startswith("reference/"))


@pytest.mark.parametrize("name", REFERENCE_PAGES)
def test_every_object_the_reference_documents_exists(name: str):
    text = page(name)
    for identifier in re.findall(r"^::: ([\w.]+)$", text, flags=re.MULTILINE):
        resolve(identifier)
    for identifier in re.findall(r"\]\[(marketplace_core[\w.]+)\]", text):
        resolve(identifier)


def test_the_reference_covers_the_facade_ports_errors_testing_kit_and_conformance():
    documented = {
        identifier
        for name in REFERENCE_PAGES
        for identifier in re.findall(r"^::: ([\w.]+)$", page(name), flags=re.MULTILINE)
    }
    assert documented >= {
        "marketplace_core.marketplace.Marketplace",
        "marketplace_core.ports",
        "marketplace_core.errors",
        "marketplace_core.testing",
        "marketplace_core.testing.strategies",
        "marketplace_core.testing.stateful",
        "marketplace_core.conformance",
    }
