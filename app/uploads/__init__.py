"""Uploads: sniffing, streaming multipart parsing, image variants, storage in R2 and D1, signed links."""
