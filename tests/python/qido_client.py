#!/usr/bin/env python3
"""Test helper for Enkaku's QIDO-RS tests (portal/tests/dicomweb_qido.rs).

    qido_client.py BASE_URL TOKEN QUERIES.json

Runs each query of QUERIES.json (a JSON list) with the PyPI `dicomweb-client` against
BASE_URL/dicom-web (Authorization: Bearer TOKEN) and prints one JSON list on stdout, one
entry per query:

    query:  {"level": "studies" | "series" | "instances",
             "study": UID?, "series": UID?, "filters": {...}?, "limit": N?, "offset": N?,
             "fields": [...]?}
    result: {"status": 200, "results": [DICOM JSON...],
             "names": [str(PatientName) of each result, through pydicom]}
         or {"status": HTTP status, "error": message}

`names` checks that pydicom reads the answer back (person names with their three groups).
"""
import json
import sys

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient


def run(client, q):
    kw = {
        "search_filters": q.get("filters") or None,
        "limit": q.get("limit"),
        "offset": q.get("offset"),
        "fields": q.get("fields"),
    }
    level = q["level"]
    if level == "studies":
        return client.search_for_studies(**kw)
    if level == "series":
        return client.search_for_series(study_instance_uid=q.get("study"), **kw)
    if level == "instances":
        return client.search_for_instances(
            study_instance_uid=q.get("study"), series_instance_uid=q.get("series"), **kw
        )
    raise ValueError(f"unknown level {level}")


def name_of(item):
    ds = pydicom.Dataset.from_json(item)
    return str(ds.PatientName) if "PatientName" in ds else None


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, token, queries = argv
    with open(queries, encoding="utf-8") as f:
        queries = json.load(f)
    client = DICOMwebClient(url=f"{base}/dicom-web", headers={"Authorization": f"Bearer {token}"})
    out = []
    for q in queries:
        try:
            results = run(client, q)
            out.append({"status": 200, "results": results, "names": [name_of(r) for r in results]})
        except requests.exceptions.HTTPError as e:
            status = e.response.status_code if e.response is not None else 0
            out.append({"status": status, "error": str(e)})
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
