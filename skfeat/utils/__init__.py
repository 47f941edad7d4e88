"""Internal utilities of skfeat (array-namespace helpers)."""
