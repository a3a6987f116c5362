"""Expose TASDER's config groups (hw/, tasd/, model/, data/, ...) to ANY Hydra app.

Hydra discovers this SearchPathPlugin in the ``hydra_plugins`` namespace package; it appends the
project's ``conf/`` to every app's search path, so an app can say ``defaults: [{hw: vegeta}]``
or ``hw=flex8`` on its command line. The app's own groups come first and win.
"""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from tasder_plugin.conf_location import conf_dir


class TASDERSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        try:
            path = conf_dir()
        except FileNotFoundError:  # never break somebody else's Hydra app
            return
        search_path.append(provider="tasder", path=f"file://{path}")
