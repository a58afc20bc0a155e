"""Assessments and reports (the compliance-engine issue). `reports` reads `agreements`, never the reverse."""
