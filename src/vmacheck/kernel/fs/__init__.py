"""Models of ``fs/``: file references (``fs/file_table.c``) and ``/proc`` readers
(``fs/proc/``)."""
