"""GCSExporter against a GCS emulator (``STORAGE_EMULATOR_HOST``): settings, names, objects, errors.

The bucket ``compat-<side>`` exists; ``compat-missing`` does not.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from typing import Any

import _compat
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from aiobs.exporters import GCSExporter

BUCKET = f"compat-{_compat.SIDE}"
data = _compat.sample()
client = storage.Client(project="test", credentials=AnonymousCredentials())


def settings(exporter: Any) -> dict[str, Any]:
    return {
        name: getattr(exporter, name, "<missing>")
        for name in (
            "bucket",
            "prefix",
            "project",
            "credentials_path",
            "filename_template",
            "content_type",
            "name",
        )
    }


def stored(name: str) -> dict[str, Any] | None:
    blob = client.bucket(BUCKET).get_blob(name)
    if blob is None:
        return None
    return {
        "content_type": blob.content_type,
        "metadata": blob.metadata,
        "document": json.loads(blob.download_as_bytes()),
    }


def export(exporter: Any, data_: Any = data, **kwargs: Any) -> dict[str, Any]:
    found = _compat.outcome(lambda: exporter.export(data_, **kwargs))
    returned = found.get("returned") or {}
    blob_path = (returned.get("metadata") or {}).get("blob_path")
    if blob_path is not None:
        found["stored"] = stored(blob_path)
    return found


findings: dict[str, Any] = {
    "prefixes": {
        prefix: settings(GCSExporter(BUCKET, prefix=prefix))
        for prefix in ("", "traces", "traces/", "/runs/a/", "a//", "/")
    },
    "positional_settings": settings(
        GCSExporter(BUCKET, "p", "proj", "/keys/sa.json", "{date}.json", "text/plain")
    ),
    "export": export(GCSExporter(BUCKET, prefix="traces", project="test")),
    "export_with_filename_and_metadata": export(
        GCSExporter(BUCKET, prefix="traces/", project="test", content_type="application/x-aiobs"),
        filename="given.json",
        metadata={"team": "search"},
        unknown_option=1,
    ),
    "no_session": export(GCSExporter(BUCKET, project="test"), _compat.sample(sessions=[])),
}

before = time.time()
template = GCSExporter(
    BUCKET, project="test", filename_template="{date}/{session_id}-{timestamp}.json"
)
findings["template"] = export(template)
findings["template_clock"] = {
    "date": datetime.date.today().isoformat(),
    "after": int(before),
    "before": int(time.time()) + 1,
}
findings["missing_bucket"] = export(GCSExporter("compat-missing", project="test"))

findings["from_env"] = {}
for name, environment in {
    "nothing": {},
    "bucket": {"AIOBS_GCS_BUCKET": BUCKET},
    "everything": {
        "AIOBS_GCS_BUCKET": BUCKET,
        "AIOBS_GCS_PREFIX": "env-prefix",
        "AIOBS_GCS_PROJECT": "env-project",
        "GOOGLE_APPLICATION_CREDENTIALS": "/keys/env.json",
    },
    "empty_values": {
        "AIOBS_GCS_BUCKET": BUCKET,
        "AIOBS_GCS_PREFIX": "",
        "AIOBS_GCS_PROJECT": "",
        "GOOGLE_APPLICATION_CREDENTIALS": "",
    },
}.items():
    for variable in (
        "AIOBS_GCS_BUCKET",
        "AIOBS_GCS_PREFIX",
        "AIOBS_GCS_PROJECT",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        os.environ.pop(variable, None)
    os.environ.update(environment)
    findings["from_env"][name] = _compat.outcome(lambda: settings(GCSExporter.from_env()))
os.environ["MY_BUCKET"] = BUCKET
findings["from_env"]["other_names"] = _compat.outcome(
    lambda: settings(GCSExporter.from_env(bucket_env="MY_BUCKET", prefix_env="MY_PREFIX"))
)
findings["from_env"]["other_names_missing"] = _compat.outcome(
    lambda: GCSExporter.from_env("NOT_SET_BUCKET")
)
findings["from_env"]["export"] = export(GCSExporter.from_env("MY_BUCKET"))

findings["credentials_file_missing"] = export(
    GCSExporter(BUCKET, credentials_path="/nowhere/sa.json")
)


class Named(GCSExporter):
    """A 0.2 subclass that names objects itself."""

    def _generate_filename(self, data: Any) -> str:
        return f"custom-{data.sessions[0].name}.json"


findings["generate_filename_override"] = export(Named(BUCKET, prefix="x", project="test"))

import google.cloud  # noqa: E402 - the library goes missing only now

sys.modules["google.cloud.storage"] = None  # type: ignore[assignment]
del google.cloud.storage
findings["missing_library"] = export(GCSExporter(BUCKET, project="test"))
_compat.report(**findings)
