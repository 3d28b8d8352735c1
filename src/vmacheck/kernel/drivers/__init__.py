"""Models of the kernel's drivers directory."""
