"""The dependency rule of DESIGN.md, held by the import-linter contracts in pyproject.toml."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(config: Path, pythonpath: Path):
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
        cwd=pythonpath,
    )


def test_project_keeps_its_import_contracts():
    result = lint_imports(ROOT / "pyproject.toml", ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


def make_package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "qwentrade" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for directory in [tmp_path / "qwentrade", *(tmp_path / "qwentrade").rglob("*")]:
        if directory.is_dir() and not (directory / "__init__.py").exists():
            (directory / "__init__.py").write_text("")
    return tmp_path


BASE = {
    "domain/values.py": "import attrs\n",
    "ports/port.py": "from qwentrade.domain import values\n",
    "adapters/okx/exchange.py": "import ccxt\n",
    "adapters/sql/repo.py": "import sqlalchemy\n",
    "adapters/memory/repo.py": "",
    "adapters/sim/engine.py": "",
    "adapters/coinglass/client.py": "import httpx\n",
    "adapters/notify/notifier.py": "import apprise\n",
    "adapters/http/app.py": "from qwentrade.app import services\n",
    "app/services.py": "",
    "testing/fake.py": "from qwentrade.adapters.sim import engine\n",
    "app/container.py": "from qwentrade.adapters.okx import exchange\n",
    "app/cli.py": "",
    "app/runtime.py": "",
}


def check(tmp_path, extra):
    config = tmp_path / "pyproject.toml"
    shutil.copy(ROOT / "pyproject.toml", config)
    return lint_imports(config, make_package(tmp_path, {**BASE, **extra}))


def test_a_clean_tree_passes(tmp_path):
    result = check(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr


def test_contract_names_cover_the_design_rules():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    forbidden_in_domain = contracts["contracts"][0]["forbidden_modules"]
    for module in ("sqlalchemy", "ccxt", "httpx", "websocket", "litestar", "qwentrade.adapters"):
        assert module in forbidden_in_domain


VIOLATIONS = {
    "domain imports sqlalchemy": {"domain/bad.py": "import sqlalchemy\n"},
    "domain imports an adapter": {"domain/bad.py": "from qwentrade.adapters.sim import engine\n"},
    "ports import an adapter": {"ports/bad.py": "from qwentrade.adapters.sql import repo\n"},
    "sql imports okx": {"adapters/sql/bad.py": "from qwentrade.adapters.okx import exchange\n"},
    "sim imports app": {"adapters/sim/bad.py": "from qwentrade.app import services\n"},
    "memory imports http": {"adapters/memory/bad.py": "from qwentrade.adapters.http import app\n"},
    "http imports the container": {"adapters/http/bad.py": "from qwentrade.app import container\n"},
    "notify imports sql": {"adapters/notify/bad.py": "from qwentrade.adapters.sql import repo\n"},
    "notify imports app": {"adapters/notify/bad.py": "from qwentrade.app import services\n"},
}


def test_every_forbidden_import_breaks_the_build(tmp_path):
    for index, (name, files) in enumerate(VIOLATIONS.items()):
        workdir = tmp_path / str(index)
        workdir.mkdir()
        result = check(workdir, files)
        assert result.returncode != 0, f"{name} was not caught:\n{result.stdout}"
        assert "BROKEN" in result.stdout.upper()
