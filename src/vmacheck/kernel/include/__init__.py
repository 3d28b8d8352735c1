"""Models of kernel headers (``include/``)."""
