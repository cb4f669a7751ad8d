"""A plugin with a bug at import time."""
import hlo_passes

raise RuntimeError("this plugin is broken")
