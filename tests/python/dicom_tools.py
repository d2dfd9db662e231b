#!/usr/bin/env python3
"""Test helper for portal/tests/dicom.rs: makes small synthetic DICOM files with pydicom and
sends them with pynetdicom, printing JSON results on stdout.

  make  --out DIR --study-uid UID [--series N] [--per-series M] [--bad-study-uid]
        [--patient-id ID] [--pad BYTES]
        -> {"files": [...], "study_uid": "..."}
  send  --port P [--host H] [--aet A] [--aec C] [--associations K] FILE...
        -> {"associations": [{"established": bool, "statuses": [int, ...]}, ...]}

Files in `send` are split round-robin over K concurrent associations. Datasets are sent as
read (no validation), so deliberately invalid instances reach the server.
"""

import argparse
import json
import os
import sys
import threading

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE


def make(args):
    os.makedirs(args.out, exist_ok=True)
    files = []
    study_uid = args.study_uid
    if args.bad_study_uid:
        study_uid = "1.2.3.ABC.4"
    for s in range(args.series):
        series_uid = generate_uid()
        for i in range(args.per_series):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = CTImageStorage
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.SpecificCharacterSet = "ISO_IR 100"
            ds.SOPClassUID = CTImageStorage
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = series_uid
            ds.PatientID = args.patient_id
            ds.PatientName = "TEST^SCP"
            ds.PatientBirthDate = "19700101"
            ds.PatientSex = "O"
            ds.StudyDate = "20260101"
            ds.StudyTime = "120000"
            ds.AccessionNumber = "ACC1"
            ds.StudyDescription = "SCP test"
            ds.Modality = "CT"
            ds.SeriesNumber = s + 1
            ds.InstanceNumber = i + 1
            ds.Rows = 8
            ds.Columns = 8
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = 16
            ds.BitsStored = 12
            ds.HighBit = 11
            ds.PixelRepresentation = 0
            if args.pad:
                ds.ImageComments = "x" * args.pad
            ds.PixelData = (np.arange(64, dtype=np.uint16) + i).tobytes()
            path = os.path.join(args.out, f"s{s + 1:02d}_i{i + 1:03d}.dcm")
            ds.save_as(path, enforce_file_format=True)
            files.append(path)
    print(json.dumps({"files": files, "study_uid": study_uid}))


def send(args):
    from pynetdicom import AE, debug_logger  # noqa: F401
    from pynetdicom.sop_class import CTImageStorage as CT

    groups = [args.files[k :: args.associations] for k in range(args.associations)]
    results = [None] * len(groups)

    def one(k, files):
        ae = AE(ae_title=args.aet)
        ae.add_requested_context(CT, [ExplicitVRLittleEndian])
        assoc = ae.associate(args.host, args.port, ae_title=args.aec)
        out = {"established": bool(assoc.is_established), "statuses": []}
        if assoc.is_established:
            for f in files:
                ds = pydicom.dcmread(f)
                st = assoc.send_c_store(ds)
                out["statuses"].append(int(st.Status) if st and "Status" in st else -1)
            assoc.release()
        results[k] = out

    threads = [threading.Thread(target=one, args=(k, g)) for k, g in enumerate(groups)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"associations": results}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    m.add_argument("--study-uid", default=None)
    m.add_argument("--series", type=int, default=1)
    m.add_argument("--per-series", type=int, default=1)
    m.add_argument("--bad-study-uid", action="store_true")
    m.add_argument("--patient-id", default="P0001")
    m.add_argument("--pad", type=int, default=0)
    s = sub.add_parser("send")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--aet", default="CLINIC_A")
    s.add_argument("--aec", default="ENKAKU")
    s.add_argument("--associations", type=int, default=1)
    s.add_argument("files", nargs="+")
    args = p.parse_args()
    if args.cmd == "make":
        if args.study_uid is None:
            args.study_uid = generate_uid()
        make(args)
    else:
        send(args)


if __name__ == "__main__":
    sys.exit(main())
