"""
Seeded, realistic CloudFront + origin logs for each cause flakehunt names: the ground truth the
accuracy benchmark (`bench/accuracy.py`) and the correlate tests are judged against.

>>> Scenario("stale_cache", sessions=500, seed=3).name
'stale_cache-s500-n0.03-seed3'
"""

from flakehunt.synth.scenario import EXPECT, GeneratedCase, Scenario, generate, read_case
from flakehunt.synth.traffic import CAUSES, EFFECTS

__all__ = ["CAUSES", "EFFECTS", "EXPECT", "GeneratedCase", "Scenario", "generate", "read_case"]
