DROP TABLE key_images;
