"""Prefer a node that already holds the pod's images, weighted by their size.

Score = 100 * bytes of the chosen images present on the node / bytes of those images as
reported anywhere: a node holding the 5 GB Windows base layer beats one holding a 50 MB
sidecar (Windows pulls take minutes). Nodes holding none score 0, so the search visits
the holders explicitly (when there are few) and otherwise widens its bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixfleet.scheduler.requirements import PodRequirements

if TYPE_CHECKING:
    from mixfleet.scheduler.plan import Option
    from mixfleet.scheduler.snapshot import Snapshot


class ImageLocality:
    name = "ImageLocality"
    weight_name = "image_locality"

    def active(self, req: PodRequirements) -> bool:
        return True

    def score_node(self, req: PodRequirements, option: Option, node: int, snap: Snapshot) -> float:
        if not option.image_total:
            return 0.0
        held = snap.node_images[node]
        return 100.0 * sum(held.get(n, 0) for n in option.image_names) / option.image_total


PLUGIN = ImageLocality()
