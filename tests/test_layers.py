"""The two layering rules: core/ never imports streamlit; pages import nothing heavy at load."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "transformers", "peft", "datasets", "accelerate", "deepspeed"}


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:  # module level only: imports inside functions are lazy on purpose
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _all_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path", sorted((ROOT / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_core_never_imports_streamlit(path):
    assert "streamlit" not in _all_imports(path)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"], ids=lambda p: p.name
)
def test_pages_import_nothing_heavy_at_module_level(path):
    assert not (_module_level_imports(path) & HEAVY)


def test_importing_the_router_modules_does_not_load_torch():
    import subprocess
    import sys

    code = (
        "import sys, core.settings, core.runs, core.jobs, core.guide, core.models, "
        "core.data.load, core.data.detect, core.plots.training, core.export, core.evaluate; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
