-- Imaging attributes of each instance that viewers need before they fetch pixels
-- (pixel spacing, window, rescale, bits, photometric, position and orientation…), kept as
-- one JSON object per instance so that WADO-RS metadata comes from the index. The shape is
-- shared::index::ImagingAttributes; rows indexed before this migration hold '{}'.
ALTER TABLE instances ADD COLUMN imaging TEXT NOT NULL DEFAULT '{}';
