"""lm-evaluation-harness model type ``tasder``: any lm-eval task on a TASD-decomposed causal LM,
with the plan's hardware cost next to the task metrics.

lm-eval 0.4.x finds models only in its own registry (it has no plugin discovery), so the model
type is registered by importing this package: the ``tasder-lm-eval`` command (``python -m
tasder_plugin.lmeval``) is lm-eval's own command line with ``--model tasder`` registered, and from
Python ``register()`` then ``lm_eval.simple_evaluate(model="tasder", ...)``. The package imports
nothing heavy until the model is built.
"""

from __future__ import annotations

__all__ = ["MODEL_NAME", "register"]

MODEL_NAME = "tasder"
_TARGET = "tasder_plugin.lmeval.model:TASDLM"


def register() -> None:
    """Register ``--model tasder`` with lm-eval (idempotent; needs ``pip install 'tasder[lm]'``)."""
    try:
        import lm_eval.models  # noqa: F401  (its built-in models first: it skips them otherwise)
        from lm_eval.api.registry import model_registry
    except ImportError as err:
        from ..errors import ConfigError

        raise ConfigError(
            f"the lm-eval plug-in needs lm-evaluation-harness (pip install 'tasder[lm]'): {err}"
        ) from None
    if MODEL_NAME not in model_registry:
        model_registry.register(MODEL_NAME, target=_TARGET)
