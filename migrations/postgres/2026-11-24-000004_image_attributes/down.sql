ALTER TABLE instances DROP COLUMN imaging;
