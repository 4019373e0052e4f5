"""Photos: uploads, renditions, EXIF and their S3 objects."""
