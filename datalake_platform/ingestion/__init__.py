"""Landing -> universal: reading raw landing files into lines that domains type and validate."""
