"""Models of the kernel's drivers/android directory."""
