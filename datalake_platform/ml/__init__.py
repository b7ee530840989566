"""What every model on the lake shares: versions from the data, artifacts in the smart zone, metrics, plots."""
