#!/usr/bin/env python3
"""Test helper for Enkaku's ingest tests (portal/tests/studies.rs and stow.rs).

    stow_client.py gen SPEC.json
        Writes small DICOM Part 10 files described by SPEC.json (a list of objects, see
        `generate`) with pydicom. `"base": "chrH31"` starts from pydicom's Japanese test file
        (ISO 2022 IR 87, patient Yamada^Tarou=山田^太郎=やまだ^たろう) and keeps its
        encoded name; otherwise a tiny CT (8x8, 16-bit) is built.

    stow_client.py stow BASE_URL TOKEN FILE...
        Sends the files with the PyPI `dicomweb-client` STOW-RS client to
        BASE_URL/dicom-web (Authorization: Bearer TOKEN) and prints the response as DICOM
        JSON on stdout.
"""
import json
import sys

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def chr_h31():
    from pydicom.data import get_charset_files

    return pydicom.dcmread(get_charset_files("chrH31.dcm")[0])


def fresh(spec):
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = spec.get("sop_class", CT_IMAGE)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    name = spec.get("name", "Test^Patient")
    if any(ord(c) > 127 for c in name):
        ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = spec.get("sop_class", CT_IMAGE)
    ds.PatientName = name
    ds.PatientID = spec.get("patient_id", "P0001")
    ds.PatientBirthDate = spec.get("birth_date", "19600101")
    ds.PatientSex = spec.get("sex", "M")
    ds.AccessionNumber = spec.get("accession", "A0001")
    ds.StudyDescription = spec.get("description", "CT chest")
    ds.BodyPartExamined = spec.get("body_part", "CHEST")
    ds.SeriesDescription = spec.get("series_description", "axial")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 8
    ds.Columns = 8
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(range(128))
    return ds


def generate(spec):
    ds = chr_h31() if spec.get("base") == "chrH31" else fresh(spec)
    ds.SOPInstanceUID = spec["sop"]
    ds.file_meta.MediaStorageSOPInstanceUID = spec["sop"]
    if "study" in spec:
        ds.StudyInstanceUID = spec["study"]
    if "series" in spec:
        ds.SeriesInstanceUID = spec["series"]
    ds.Modality = spec.get("modality", "CT")
    ds.StudyDate = spec.get("date", "20250110")
    ds.StudyTime = "101500"
    ds.SeriesNumber = spec.get("series_number", 1)
    ds.InstanceNumber = spec.get("instance_number", 1)
    ds.save_as(spec["out"], enforce_file_format=True)


def stow(base, token, files):
    from dicomweb_client.api import DICOMwebClient

    client = DICOMwebClient(url=f"{base}/dicom-web", headers={"Authorization": f"Bearer {token}"})
    datasets = [pydicom.dcmread(f) for f in files]
    result = client.store_instances(datasets)
    print(json.dumps(result.to_json_dict() if result is not None else {}))


def main(argv):
    if len(argv) >= 2 and argv[0] == "gen":
        with open(argv[1], encoding="utf-8") as f:
            for spec in json.load(f):
                generate(spec)
        return 0
    if len(argv) >= 4 and argv[0] == "stow":
        stow(argv[1], argv[2], argv[3:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
