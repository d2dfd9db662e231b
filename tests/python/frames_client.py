#!/usr/bin/env python3
"""Test helper for Enkaku's frame tests (portal/tests/dicomweb_frames.rs).

    frames_client.py BASE_URL TOKEN STUDY SERIES SOP OUT_DIR

With the PyPI `dicomweb-client` (Authorization: Bearer TOKEN) against BASE_URL/dicom-web:
retrieve_instance_frames (frame 1, its default Accept: multipart/related; type="*/*") and
retrieve_instance_rendered (image/png). Writes OUT_DIR/frame1.raw and OUT_DIR/rendered.png and
prints a JSON summary: {"frames": N, "frame1_len": BYTES, "rendered_len": BYTES}.
"""
import json
import os
import sys

from dicomweb_client.api import DICOMwebClient


def main():
    base, token, study, series, sop, out = sys.argv[1:7]
    client = DICOMwebClient(
        url=base + "/dicom-web", headers={"Authorization": "Bearer " + token}
    )
    frames = client.retrieve_instance_frames(study, series, sop, frame_numbers=[1])
    with open(os.path.join(out, "frame1.raw"), "wb") as f:
        f.write(frames[0])
    png = client.retrieve_instance_rendered(study, series, sop, media_types=("image/png",))
    with open(os.path.join(out, "rendered.png"), "wb") as f:
        f.write(png)
    print(json.dumps({"frames": len(frames), "frame1_len": len(frames[0]), "rendered_len": len(png)}))


if __name__ == "__main__":
    main()
