"""Models of ``include/linux/`` headers: mm types, the mmap_lock and per-VMA lock API."""
