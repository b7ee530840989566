"""Which cloud a lake root is on, and its object store's SDK clients, configured from the settings
(an emulator's endpoint in tests, the SDK's default credential chain otherwise)."""

from __future__ import annotations

from datalake_platform.settings import current

# URI scheme of a lake root -> the environment (DATALAKE_ENV) whose store it is on.
LAKE_SCHEMES = {
    "": "local",
    "file": "local",
    "s3": "aws",
    "s3a": "aws",
    "gs": "gcp",
    "gcs": "gcp",
    "abfss": "azure",
    "abfs": "azure",
}


def scheme_of(root: str) -> str:
    return root.split("://", 1)[0] if "://" in root else ""


def cloud_of(root: str) -> str:
    """`local`, `aws`, `gcp` or `azure`; a clear error for a scheme no backend serves."""
    scheme = scheme_of(root)
    if scheme not in LAKE_SCHEMES:
        raise ValueError(
            f"DATALAKE_ROOT={root!r}: no storage backend for {scheme}:// (use a folder, s3://, gs:// or abfss://)"
        )
    return LAKE_SCHEMES[scheme]


def s3_client():
    import boto3

    return boto3.client("s3", endpoint_url=current().aws_endpoint_url)


def gcs_client():
    from google.cloud import storage

    settings = current()
    if settings.gcs_emulator:  # fake-gcs-server: no credentials, any project
        return storage.Client(project=settings.google_cloud_project or "test")
    return storage.Client()


def azure_blob_client():
    from azure.storage.blob import BlobServiceClient

    settings = current()
    if settings.azure_connection_string:
        return BlobServiceClient.from_connection_string(settings.azure_connection_string)
    from azure.identity import DefaultAzureCredential

    return BlobServiceClient(settings.require("azure_account_url"), credential=DefaultAzureCredential())
