DROP TABLE fee_lines;
DROP TABLE report_templates;
DROP TABLE report_drafts;
DROP TABLE report_version_key_images;
DROP TABLE report_versions;
DROP TABLE reports;
