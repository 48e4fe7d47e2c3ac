"""One module per ``cribside`` command: argument parsing and printing only; the work is in the libraries."""
