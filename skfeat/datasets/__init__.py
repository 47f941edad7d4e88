"""Small synthetic feature maps with known structure, for tests and examples."""

from ._synthetic import make_planted_features, make_power_law_features

__all__ = ["make_planted_features", "make_power_law_features"]
