"""The datalake's own vocabulary (zones, tables, paths, storage), free of Dagster."""
