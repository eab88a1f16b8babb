"""The placement pipeline, in order. Reading this file tells you the feature list.

Class filters run once per (pod template, node class), so their cost hardly matters;
their order decides which reason a node is counted under (its first failure):
cheap yes/no node state first, then the most selective platform split (OS: a Linux pod
rules out a third of a mixed fleet in one comparison), then labels and taints, then the
Windows build/isolation choice (version arithmetic and image choice), then the kernel.

Node filters run per candidate node in the hot loop, so they are the few facts that differ
between nodes of one class, cheapest first: a hostname selector (a dict lookup), then
the node a pod's claim is bound to (a lookup per claim), then resources (three integer
comparisons, inlined by the search), then pod anti-affinity
(index lookups, sometimes a look at the node's pods).
"""

from __future__ import annotations

from mixfleet.scheduler.plugins import (
    anti_affinity,
    disk_pressure,
    image_locality,
    isolation_preference,
    kernel,
    node_affinity,
    node_condition,
    os_arch,
    taints,
    volume_binding,
    windows_build,
)
from mixfleet.scheduler.plugins.base import ClassFilter, ClassScore, NodeFilter

CLASS_FILTERS: tuple[ClassFilter, ...] = (
    node_condition.PLUGIN,
    disk_pressure.PLUGIN,
    os_arch.PLUGIN,
    taints.PLUGIN,
    node_affinity.PLUGIN,
    windows_build.PLUGIN,
    kernel.PLUGIN,
)
CLASS_SCORES: tuple[ClassScore, ...] = (
    taints.PLUGIN,
    node_affinity.PLUGIN,
    isolation_preference.PLUGIN,
)
# Resources sit between these two; see plugins/resources.py and search.py.
NODE_FILTERS_BEFORE_RESOURCES: tuple[NodeFilter, ...] = (node_affinity.PLUGIN, volume_binding.PLUGIN)
NODE_FILTERS_AFTER_RESOURCES: tuple[NodeFilter, ...] = (anti_affinity.PLUGIN,)
# The strategy score (binpack/spread, plugins/strategy.py) is applied by the search.
NODE_SCORES = (anti_affinity.SCORE,)
IMAGE_SCORE = image_locality.PLUGIN
