"""Hydra structured-config schemas of every config group, derived from the typed dataclasses.

Each ``conf/<group>/<option>.yaml`` extends its schema through its defaults list
(``optional /tasder_schema@_here_: <name>``), so Hydra rejects a typo or a wrong type at compose
time. ``optional`` keeps the groups usable from other Hydra apps through the search-path plugin
(which must stay import-light): they compose unchecked unless they call :func:`register_schemas`.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from tasder_plugin.config import hydra_schema
from tasder_plugin.data.common import DATA_KINDS
from tasder_plugin.hardware.spec import HardwareSpec
from tasder_plugin.models.adapters import ModelConfig

from .logger_configs import LOGGER_SCHEMAS
from .plans import PLAN_KINDS
from .settings import RunSchema, TrainerSettings

__all__ = ["SCHEMA_GROUP", "register_schemas", "schema_names"]

SCHEMA_GROUP = "tasder_schema"


def _schemas() -> dict[str, type]:
    found = {
        "config": hydra_schema(RunSchema),
        "hw": hydra_schema(HardwareSpec, exclude=("name",)),  # the name is the file's
        "model": hydra_schema(ModelConfig),
        "trainer": hydra_schema(TrainerSettings),
    }
    found.update({f"tasd_{k}": hydra_schema(PLAN_KINDS.get(k).config) for k in PLAN_KINDS})
    found.update({f"data_{k}": hydra_schema(DATA_KINDS.get(k).config) for k in DATA_KINDS})
    found.update({f"logger_{k}": hydra_schema(cls) for k, cls in LOGGER_SCHEMAS.items()})
    return found


def schema_names() -> list[str]:
    """The schema options a YAML file may extend (``tasd_search``, ``data_hf_text``, ...)."""
    return sorted(_schemas())


def register_schemas() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    store = ConfigStore.instance()
    for name, node in _schemas().items():
        store.store(group=SCHEMA_GROUP, name=name, node=node)
