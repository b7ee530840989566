"""Data quality: pandera contracts validated on Spark in one pass, quarantine, asset checks."""
