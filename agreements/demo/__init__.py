"""Demo agreements as data files (`sochi/`), read and checked by `reading` and loaded through `agreements.services`
by `loading`."""
