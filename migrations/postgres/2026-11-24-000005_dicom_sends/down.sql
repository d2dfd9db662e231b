DROP TABLE dicom_send_items;
DROP TABLE dicom_sends;
