"""The command line: argument parsing -> service -> exit code."""
