"""The passengers domain: the Titanic passenger list -> features -> a survival model and its predictions."""
