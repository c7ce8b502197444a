"""Reports from files on disk: plots (matplotlib) now, the HTML report later."""
