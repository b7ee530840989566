"""Domain `transactions`: CDNOW purchases -> amount per person (the batch reporting pattern)."""
