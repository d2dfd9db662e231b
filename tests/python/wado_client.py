#!/usr/bin/env python3
"""Test helper for Enkaku's WADO-RS tests (portal/tests/dicomweb_wado.rs).

    wado_client.py BASE_URL TOKEN STUDY_UID
        With the PyPI `dicomweb-client` (Authorization: Bearer TOKEN) against
        BASE_URL/dicom-web: retrieve_study, then retrieve_series and retrieve_instance of the
        first instance it got, then retrieve_study_metadata. Prints a JSON summary on stdout:

        {"study":    [{"sop": UID, "series": UID, "sha256": HEX, "name": {...}}, ...],
         "series":   [... the same, for the series ...],
         "instance": [... the one instance ...],
         "metadata": [{"sop": UID, "series": UID, "name": {"alphabetic": ...,
                       "ideographic": ..., "phonetic": ...}}, ...]}

        `sha256` is the digest of the raw multipart part as received (before pydicom parses
        it), so the caller can check the bytes are identical to what it stored.
"""
import hashlib
import json
import sys

from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset


class RecordingClient(DICOMwebClient):
    """Keeps the SHA-256 of each multipart part it decodes, in order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.digests = []

    def _decode_multipart_message(self, response, stream):
        for part in super()._decode_multipart_message(response, stream):
            self.digests.append(hashlib.sha256(bytes(part)).hexdigest())
            yield part


def names(pn):
    return {
        "alphabetic": str(pn.alphabetic) if pn is not None else "",
        "ideographic": str(pn.ideographic) if pn is not None else "",
        "phonetic": str(pn.phonetic) if pn is not None else "",
    }


def retrieve(client, fetch):
    before = len(client.digests)
    datasets = list(fetch())
    digests = client.digests[before:]
    assert len(digests) == len(datasets), (len(digests), len(datasets))
    return [
        {
            "sop": str(ds.SOPInstanceUID),
            "series": str(ds.SeriesInstanceUID),
            "sha256": digest,
            "name": names(ds.get("PatientName")),
        }
        for ds, digest in zip(datasets, digests)
    ]


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, token, study = argv
    client = RecordingClient(
        url=f"{base}/dicom-web", headers={"Authorization": f"Bearer {token}"}
    )
    out = {"study": retrieve(client, lambda: client.retrieve_study(study))}
    first = out["study"][0]
    out["series"] = retrieve(
        client, lambda: client.retrieve_series(study, first["series"])
    )
    out["instance"] = retrieve(
        client,
        lambda: [client.retrieve_instance(study, first["series"], first["sop"])],
    )
    out["metadata"] = []
    for item in client.retrieve_study_metadata(study):
        ds = Dataset.from_json(item)
        out["metadata"].append(
            {
                "sop": str(ds.SOPInstanceUID),
                "series": str(ds.SeriesInstanceUID),
                "transfer_syntax": str(item["00020010"]["Value"][0]),
                "name": names(ds.get("PatientName")),
            }
        )
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
