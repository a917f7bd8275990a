"""The README, the CI script, the docs and the demo stay true to the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from marketplace_core.__main__ import main
from marketplace_core.billing import INVOICE_LIFECYCLE
from marketplace_core.offerings import OFFERING_LIFECYCLE

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_test_command_the_readme_shows():
    marker = README.index("<!-- test-command")
    block = re.search(r"```sh\n(.+)\n```", README[marker:])
    assert block is not None
    assert "pytest" in block.group(1)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "<!-- test-command" in ci
    assert 'eval "$test_command"' in ci


def test_the_readme_shows_the_main_job():
    assert "python -m pip install . && python -m marketplace_core demo" in README


def test_the_readme_quick_start_runs_as_written():
    (code,) = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    exec(compile(code, "README.md", "exec"), {})


def generated_block(document: str, name: str) -> str:
    text = (ROOT / "docs" / document).read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- BEGIN GENERATED: {name} -->\n```mermaid\n(.*?)```\n<!-- END GENERATED: {name} -->",
        text,
        flags=re.DOTALL,
    )
    assert match is not None, f"docs/{document} lost its generated {name} block"
    return match.group(1)


def test_the_offering_lifecycle_diagram_in_the_docs_is_generated_from_the_machine():
    assert generated_block("catalogue.md", "offering lifecycle") == OFFERING_LIFECYCLE.to_mermaid()


def test_the_demo_tells_its_story(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    assert main(["demo", "--db", str(tmp_path / "demo.db")]) == 0
    story = capsys.readouterr().out
    assert "refused (permission_denied)" in story
    assert "Estonian universities only" in story
    assert re.search(r"Climate downscaling\s+Rocket cluster\n", story)
    assert re.search(r"Climate downscaling\s+-\n", story)
    assert re.search(r"Olga approves for the provider\s+olga\s+executing\s+creating", story)
    assert re.search(r"Olga reports the storage created\s+olga\s+done\s+ok", story)
    assert "the resource is terminated" in story
    # January: 800 GB x 0.97 month x 0.02 = 15.52, 4100 CPU h x 0.015 = 61.50, 150 GPU h x
    # 0.60 = 90.00; 167.02 less the 50.00 credit is 117.02; 20% tax 23.404 rounds up to 23.41.
    assert "price 117.02, tax 23.41, total 140.43" in story
    # The cap is 150.00: 167.02 spent by 31 January is over it (111%), so the block fired.
    assert "Pat orders more scratch space on 31 January: refused (policy_blocks_creation)" in story
    assert "new orders are allowed again" in story
    # February: 800 GB x 28 of 28 days x 0.02 = 16.00, 1750 CPU h x 0.015 = 26.25, 42 GPU h x
    # 0.60 = 25.20; 67.45, and 20% tax 13.49; both months' invoices are shown.
    assert re.search(r"January 2026\s+created\s+117.02\s+23.41\s+140.43\n", story)
    assert re.search(r"February 2026\s+created\s+67.45\s+13.49\s+80.94\n", story)
    # The VM is provisioned, resized and removed by the demo's program through the script
    # plugin, in a temporary directory that the table shows.
    assert re.search(r"Alice approves; vms.py creates it\s+done\s+ok\s+vm-3\n", story)
    assert re.search(r"Alice approves; vms.py deletes it\s+done\s+terminated\s+-\n", story)
    assert "the address\n10.20.0.3; the resize added vcpus=4" in story


def test_the_demo_runs_as_a_module(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "marketplace_core", "demo", "--db", str(tmp_path / "demo.db")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Rocket cluster" in result.stdout


def test_the_catalogue_quick_start_runs_as_written(capsys: pytest.CaptureFixture[str]):
    text = (ROOT / "docs" / "catalogue.md").read_text(encoding="utf-8")
    quick_start = text[text.index("## Quick start") :]
    (code,) = re.findall(r"```python\n(.*?)```", quick_start, flags=re.DOTALL)
    exec(compile(code, "docs/catalogue.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    lines = code.splitlines()
    promised = [
        line.split("  # ", 1)[1] if "  # " in line else lines[number + 1].removeprefix("# ")
        for number, line in enumerate(lines)
        if line.startswith("print(")
    ]
    assert printed == promised


def printed_and_promised(
    document: str, capsys: pytest.CaptureFixture[str]
) -> tuple[list[str], list[str]]:
    """Run the one ``python`` block of a document's quick start; return the lines it printed
    and the lines promised by the ``print(...)  # expected`` comments."""
    text = (ROOT / "docs" / document).read_text(encoding="utf-8")
    quick_start = text[text.index("## Quick start") :]
    (code,) = re.findall(r"```python\n(.*?)```", quick_start, flags=re.DOTALL)
    prints = [line for line in code.splitlines() if line.startswith("print(")]
    assert all("  # " in line for line in prints), "every print needs its expected output"
    exec(compile(code, f"docs/{document}", "exec"), {})
    return capsys.readouterr().out.splitlines(), [line.split("  # ", 1)[1] for line in prints]


def test_the_order_and_resource_lifecycle_diagrams_are_generated_from_the_machines():
    from marketplace_core.orders import ORDER_LIFECYCLE
    from marketplace_core.resources import RESOURCE_LIFECYCLE

    assert generated_block("orders.md", "order lifecycle") == ORDER_LIFECYCLE.to_mermaid()
    assert generated_block("orders.md", "resource lifecycle") == RESOURCE_LIFECYCLE.to_mermaid()


def test_the_orders_quick_start_runs_as_written(capsys: pytest.CaptureFixture[str]):
    printed, promised = printed_and_promised("orders.md", capsys)
    assert printed == promised
    assert "done terminated" in printed


def test_the_invoice_lifecycle_diagram_is_generated_from_the_machine():
    assert generated_block("billing.md", "invoice lifecycle") == INVOICE_LIFECYCLE.to_mermaid()


def test_the_policies_quick_start_runs_as_written(capsys: pytest.CaptureFixture[str]):
    printed, promised = printed_and_promised("policies.md", capsys)
    assert printed == promised
    assert any(line.startswith("open project-1") for line in printed)
