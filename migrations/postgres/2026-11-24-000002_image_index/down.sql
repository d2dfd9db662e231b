DROP TABLE instances;
DROP TABLE series;
DROP TABLE studies;
DROP TABLE patients;
