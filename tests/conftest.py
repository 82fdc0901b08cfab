import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def root():
    return ROOT


@pytest.fixture
def full_config():
    with open(ROOT / "config" / "config.yaml") as fh:
        return yaml.safe_load(fh)


@pytest.fixture
def smoke_config():
    with open(ROOT / "config" / "smoke.yaml") as fh:
        return yaml.safe_load(fh)
