"""The posts domain: real tweets replayed as a stream -> cleaned posts, per-minute metrics, real-time sentiment scores."""
