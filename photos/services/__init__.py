"""Photo writes, one module per operation: upload, direct (browser-to-S3 uploads), delete, rerender, rate."""
