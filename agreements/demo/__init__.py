"""Demo data sets, written as plain Python data and loaded through `agreements.services` (see `sochi`)."""
