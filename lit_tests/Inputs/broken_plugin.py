"""A plugin with a bug at import time."""
import hlo_passes  # noqa: F401 -- a plugin imports the framework, then fails

raise RuntimeError("this plugin is broken")
