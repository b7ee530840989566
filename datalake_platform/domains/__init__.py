"""One package per use case: landing -> universal -> smart."""
